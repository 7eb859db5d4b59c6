"""EKS's ListClusters and DescribeCluster answered again from moto's last answer to the same
read, until a request that may change EKS's state arrives.

Discovery over a fleet sends the same reads again and again (500 DescribeCluster calls a run,
dozens of runs in a benchmark), and moto answers one request at a time: its handler, the
response object and flask-cors's headers are most of a read's cost. A read is remembered per
account, signing region, path and query string; its answer goes out again with a request id
of its own, as moto would write it. Everything before the handler still runs for it (the
request log, refused credentials and regions, faults), and moto's record of the access key's
last use is kept up to date.

Forgotten, all at once, on any request that is not a read and not STS or IAM (their state is
not in an EKS answer while moto's IAM enforcement is off; with it on, nothing is remembered):
EKS's writes, EKS Auth, moto-api (reset) and the sandbox's own routes that change clusters. A
read that was running while something was forgotten is not remembered.
"""

import re
import threading
from collections.abc import Callable
from typing import Any

from moto import settings
from moto.core import responses as moto_responses
from moto.iam.models import mark_account_as_visited

from . import credentials

REMEMBERED_PATHS = re.compile(r"^/clusters(?:/[^/]+)?$")  # ListClusters, DescribeCluster
# Requests that leave EKS's answers as they are.
UNCHANGING_SERVICES = {"sts", "iam"}
UNCHANGING_SANDBOX_ROUTES = {"/_sandbox/tokenreview", "/_sandbox/requests/reset"}
KEPT = 20000  # answers remembered at most (then all are forgotten)


class EksReads:
    """The remembered answers, and the count of times they were forgotten."""

    def __init__(self) -> None:
        self._answers: dict[tuple[str, ...], tuple[str, list[tuple[str, str]], bytes]] = {}
        self._forgotten = 0
        self._lock = threading.Lock()

    def key(self, entry: dict[str, Any], environ: dict[str, Any]) -> tuple[str, ...] | None:
        """What a read's answer is remembered under (account, region, path, query: not the
        access key, since each role session has its own), or None: not one remembered."""
        path = environ.get("PATH_INFO", "")
        if (
            entry["service"] != "eks"
            or environ["REQUEST_METHOD"] != "GET"
            or not REMEMBERED_PATHS.match(path)
            or environ.get("CONTENT_LENGTH") not in (None, "", "0")
            or "HTTP_ORIGIN" in environ
            or settings.INITIAL_NO_AUTH_ACTION_COUNT != float("inf")
        ):
            return None
        scope = credentials.signing_scope(environ)
        if scope is None:
            return None
        return (entry["account"], scope[1], path, environ.get("QUERY_STRING", ""))

    def replay(self, key: tuple[str, ...], environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes] | None:
        """The remembered answer under `key`, with a request id of its own; None: none."""
        with self._lock:
            answer = self._answers.get(key)
        if answer is None:
            return None
        status, headers, body = answer
        scope = credentials.signing_scope(environ)
        if scope is not None:  # a key says it is signed
            mark_account_as_visited(account_id=key[0], access_key=scope[0], service="eks", region=key[1])
        request_id = moto_responses.gen_amzn_requestid_long()
        start_response(
            status, [(name, request_id if name.lower() == "x-amzn-requestid" else value) for name, value in headers]
        )
        return [body]

    def remembering(self, key: tuple[str, ...], app: Callable[..., Any], environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """`app`'s answer, remembered under `key` when it is a 200 and nothing was forgotten
        while it ran."""
        with self._lock:
            forgotten = self._forgotten
        captured: dict[str, Any] = {}

        def capture(status: str, headers: Any, *rest: Any) -> Any:
            captured.update(status=status, headers=list(headers))
            return start_response(status, headers, *rest)

        body = b"".join(app(environ, capture))
        if captured.get("status", "").startswith("200 "):
            with self._lock:
                if self._forgotten == forgotten:
                    if len(self._answers) >= KEPT:
                        self._answers.clear()
                    self._answers[key] = (captured["status"], captured["headers"], body)
        return [body]

    def note(self, service: str | None, environ: dict[str, Any]) -> None:
        """Forgets every answer when this request may change what EKS answers."""
        if environ["REQUEST_METHOD"] in ("GET", "HEAD") or service in UNCHANGING_SERVICES:
            return
        if environ.get("PATH_INFO", "") in UNCHANGING_SANDBOX_ROUTES:
            return
        self.forget()

    def forget(self) -> None:
        with self._lock:
            self._answers.clear()
            self._forgotten += 1


# One for the process: every middleware's requests may forget (a test's writes may go through
# another middleware than its reads).
EKS_READS = EksReads()
