"""Refuses what AWS refuses before any service looks at a request, where moto serves it:
an access key nobody issued, a role session's credentials past their expiration, and a
region the account has not enabled (opt-in regions)."""

import datetime
import json
import secrets
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from moto.core.utils import utcnow
from moto.sts.models import sts_backends

from . import tokenreview

INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"
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


def expire_session(access_key: str) -> bool:
    """Ends the role session whose credentials use `access_key` now, as time would; False when
    no session has that key."""
    for _, account in list(sts_backends.items()):
        for _, sts in list(account.items()):
            for session in list(sts.assumed_roles):
                if session.access_key_id == access_key:
                    session.expiration = utcnow() - datetime.timedelta(seconds=1)
                    return True
    return False


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
    has not enabled, as AWS answers for opt-in regions. A role session's credentials past
    their expiration get ExpiredToken (query services) or ExpiredTokenException."""
    scope = signing_scope(environ)
    if scope is None:
        return None  # unsigned: moto-api, the sandbox routes, anonymous calls
    access_key, region, service = scope
    try:
        credential = tokenreview.find_credential(access_key)
    except tokenreview.Rejected:
        if not environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
            return refuse(start_response, service)
        credential = {"account": environ["HTTP_X_MOTO_ACCOUNT_ID"], "expires": None}
    if credential["expires"] is not None and utcnow() > credential["expires"]:
        return refuse(start_response, service, expired=True)
    account = environ.get("HTTP_X_MOTO_ACCOUNT_ID") or credential["account"]
    with _lock:
        if region in _disabled_regions.get(account, set()):
            return refuse(start_response, service)
    return None


def refuse(start_response: Callable[..., Any], service: str, expired: bool = False) -> list[bytes]:
    request_id = secrets.token_hex(16)
    message = EXPIRED_TOKEN if expired else INVALID_TOKEN
    if service in QUERY_SERVICES:
        code = "ExpiredToken" if expired else "InvalidClientTokenId"
        body = (
            f'<ErrorResponse xmlns="https://{service}.amazonaws.com/doc/2011-06-15/">'
            f"<Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId>"
            "</ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    else:
        body = json.dumps({"message": message}).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", "ExpiredTokenException" if expired else "UnrecognizedClientException"),
            ("x-amzn-RequestId", request_id),
        ]
    start_response("403 Forbidden", [*headers, ("Content-Length", str(len(body)))])
    return [body]
