"""Sandbox-only faults: the next matching AWS call(s) fail with a given status and error code,
or are held for a while first, so tests can fail each write step in turn or order two runs.

POST /_sandbox/faults {"action": "CreatePodIdentityAssociation", "status": 500,
                       "code": "ServerException", "count": 1, "match": "my-namespace",
                       "delay": 0.5}
  action  the API action (as the request log names it), required
  status  the HTTP status of the error answer; none: no error, only the delay
  code    the error code (restJson `x-amzn-ErrorType` / query `<Code>`); default by status
  count   how many matching calls it applies to (default 1); then it is gone
  match   a text the call's path or body must contain (URL-decoded), e.g. a namespace;
          or a list of texts it must all contain
  delay   seconds to hold the call before answering (or serving it)
GET /_sandbox/faults lists the faults left; POST /_sandbox/faults/reset removes them all.
"""

import json
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from .credentials import QUERY_SERVICES

DEFAULT_CODES = {
    400: "InvalidRequestException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    409: "ResourceInUseException",
    429: "ThrottlingException",
    500: "ServerException",
    503: "ServiceUnavailableException",
}
REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
           429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}

_faults: list[dict[str, Any]] = []
_lock = threading.Lock()


def add(request: Any) -> tuple[str, Any]:
    """Adds one fault from a POST body; 400 naming what is wrong with it."""
    if not isinstance(request, dict) or not isinstance(request.get("action"), str):
        return "400 Bad Request", {"message": "give action (an API action, e.g. CreateAccessEntry)"}
    status = request.get("status")
    delay = request.get("delay", 0)
    if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
        return "400 Bad Request", {"message": "status must be an HTTP error status (400-599)"}
    if not isinstance(delay, (int, float)) or delay < 0 or delay > 60:
        return "400 Bad Request", {"message": "delay must be a number of seconds, 0-60"}
    if status is None and not delay:
        return "400 Bad Request", {"message": "give status, delay or both"}
    match = request.get("match")
    if isinstance(match, str):
        match = [match]
    if match is not None and not (isinstance(match, list) and all(isinstance(m, str) for m in match)):
        return "400 Bad Request", {"message": "match must be a text or a list of texts"}
    count = request.get("count", 1)
    if not isinstance(count, int) or count < 1:
        return "400 Bad Request", {"message": "count must be a positive number"}
    fault = {
        "action": request["action"],
        "status": status,
        "code": request.get("code") or (DEFAULT_CODES.get(status, "ServerException") if status else None),
        "count": count,
        "match": match or [],
        "delay": delay,
    }
    with _lock:
        _faults.append(fault)
        return "200 OK", list(_faults)


def listed() -> list[dict[str, Any]]:
    with _lock:
        return [dict(f) for f in _faults]


def holding() -> bool:
    """Whether a fault that holds its call (a delay) is armed."""
    return any(fault["delay"] for fault in _faults)  # a read of a list: no lock needed


def reset() -> None:
    with _lock:
        _faults.clear()


def take(action: str | None, path: str, body: bytes) -> dict[str, Any] | None:
    """The fault for this call, counted down (and removed at zero); None if none matches."""
    if action is None:
        return None
    text = unquote(path) + "\n" + unquote(body.decode("utf-8", "replace"))
    with _lock:
        for fault in _faults:
            if fault["action"] == action and all(m in text for m in fault["match"]):
                fault["count"] -= 1
                if fault["count"] == 0:
                    _faults.remove(fault)
                return dict(fault)
    return None


def answer(fault: dict[str, Any], service: str | None, start_response: Callable[..., Any]) -> list[bytes] | None:
    """Holds the call for the fault's delay; then the error answer, or None to serve the call."""
    if fault["delay"]:
        time.sleep(fault["delay"])
    status = fault["status"]
    if status is None:
        return None
    code = fault["code"]
    message = f"Injected by the sandbox for {fault['action']} ({code})"
    request_id = secrets.token_hex(16)
    if service in QUERY_SERVICES:
        kind = "Receiver" if status >= 500 else "Sender"
        body = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    else:
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", code),
            ("x-amzn-RequestId", request_id),
        ]
    reason = REASONS.get(status, "Error")
    start_response(f"{status} {reason}", [*headers, ("Content-Length", str(len(body)))])
    return [body]
