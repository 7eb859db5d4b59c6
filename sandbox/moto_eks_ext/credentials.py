"""Refuses what AWS refuses before any service looks at a request, where moto serves it:
an access key nobody issued, and a region the account has not enabled (opt-in regions)."""

import json
import secrets
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from . import tokenreview

INVALID_TOKEN = "The security token included in the request is invalid."
# Services that answer in the query protocol (XML errors); the rest here are restJson.
QUERY_SERVICES = {"sts", "iam"}

# account id -> regions it has not enabled; set through POST /_sandbox/regions.
_disabled_regions: dict[str, set[str]] = {}
_lock = threading.Lock()


def set_disabled_regions(account: str, regions: list[str]) -> None:
    with _lock:
        _disabled_regions[account] = set(regions)


def clear_disabled_regions() -> None:
    with _lock:
        _disabled_regions.clear()


def disabled_regions() -> dict[str, list[str]]:
    with _lock:
        return {account: sorted(regions) for account, regions in _disabled_regions.items()}


def signing_scope(environ: dict[str, Any]) -> tuple[str, str, str] | None:
    """(access key, region, service) a SigV4 request is signed with (header or query string)."""
    credential = None
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" in auth:
        credential = auth.split("Credential=", 1)[1].split(",", 1)[0].strip()
    else:
        for part in environ.get("QUERY_STRING", "").split("&"):
            if part.startswith("X-Amz-Credential="):
                credential = unquote(part.split("=", 1)[1])
    fields = (credential or "").split("/")
    if len(fields) < 4:
        return None
    return fields[0], fields[2], fields[3]


def refusal(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes] | None:
    """The answer AWS gives instead of serving the request, or None to serve it.

    An unknown access key gets InvalidClientTokenId (query services) or
    UnrecognizedClientException (JSON services); so does a request to a region its account
    has not enabled, as AWS answers for opt-in regions."""
    scope = signing_scope(environ)
    if scope is None:
        return None  # unsigned: moto-api, the sandbox routes, anonymous calls
    access_key, region, service = scope
    try:
        account = environ.get("HTTP_X_MOTO_ACCOUNT_ID") or tokenreview.find_credential(access_key)["account"]
    except tokenreview.Rejected:
        return refuse(start_response, service)
    with _lock:
        if region in _disabled_regions.get(account, set()):
            return refuse(start_response, service)
    return None


def refuse(start_response: Callable[..., Any], service: str) -> list[bytes]:
    request_id = secrets.token_hex(16)
    if service in QUERY_SERVICES:
        body = (
            f'<ErrorResponse xmlns="https://{service}.amazonaws.com/doc/2011-06-15/">'
            f"<Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>"
            f"<Message>{INVALID_TOKEN}</Message></Error><RequestId>{request_id}</RequestId>"
            "</ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    else:
        body = json.dumps({"message": INVALID_TOKEN}).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", "UnrecognizedClientException"),
            ("x-amzn-RequestId", request_id),
        ]
    start_response("403 Forbidden", [*headers, ("Content-Length", str(len(body)))])
    return [body]
