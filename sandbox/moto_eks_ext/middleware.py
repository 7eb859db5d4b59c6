"""WSGI middleware around moto: a request log for tests and the sandbox-only routes."""

import contextlib
import functools
import io
import json
import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from botocore.exceptions import DataNotFoundError, UnknownServiceError
from moto.core.request import Request
from moto.core.routing import get_service_router
from moto.eks import models as moto_eks_models
from moto.eks.models import eks_backends
from moto.iam.models import get_account_id_from
from werkzeug.exceptions import NotFound

from . import credentials, faults, speedups, tokenreview
from .read_cache import EKS_READS

CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/[^/]+/([^/]+)/")  # key, service
# Services whose requests the fast path may serve (EKS Auth: eks_auth.py serves it).
FAST_SERVICES = {"eks", "sts", "iam"}
CLUSTER_FIELDS = {  # request field -> setter on a moto Cluster
    "endpoint": lambda cluster, value: setattr(cluster, "endpoint", value),
    # CREATING, ACTIVE, DELETING, FAILED, UPDATING, PENDING: a cluster that is not ready.
    "status": lambda cluster, value: setattr(cluster, "status", value),
    "caData": lambda cluster, value: setattr(cluster, "certificate_authority", {"data": value}),
    "oidcIssuer": lambda cluster, value: setattr(cluster, "identity", {"oidc": {"issuer": value}}),
}


def read_body(environ: dict[str, Any]) -> bytes:
    """The request body; a chunked one (no Content-Length) is read to its end."""
    length = environ.get("CONTENT_LENGTH")
    if length:
        return environ["wsgi.input"].read(int(length))
    return environ["wsgi.input"].read() if environ.get("wsgi.input_terminated") else b""


# A REST request's operation and URI parameters, by what EKS's routing reads of it (method,
# path, query): the same request routes the same way every time, and routing builds a werkzeug
# Request and walks the model's URIs (a fifth of a ListClusters' time in moto).
_ROUTES: dict[tuple[str, str, str, str], tuple[Any, Any]] = {}
_ROUTES_KEPT = 4096


def route(service: str, environ: dict[str, Any]) -> tuple[Any, Any]:
    """moto's routing of a REST request to its operation, remembered for EKS's (whose URIs
    name the operation by method and path alone); other services are routed each time."""
    if service != "eks":
        return get_service_router(service).match(Request(environ))
    key = (service, environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""))
    routed = _ROUTES.get(key)
    if routed is None:
        routed = get_service_router(service).match(Request(environ))
        if len(_ROUTES) >= _ROUTES_KEPT:
            _ROUTES.clear()
        _ROUTES[key] = routed
    return routed


def describe_request(environ: dict[str, Any]) -> dict[str, Any]:
    """The log entry of one request: method, path, service, action, account and the
    client's User-Agent (CloudTrail's userAgent)."""
    body = read_body(environ)
    access_key, service = None, None
    credential = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if credential:
        access_key, service = credential[1], credential[2]
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    action = target.rsplit(".", 1)[-1] or None
    if not action:
        params = parse_qs(environ.get("QUERY_STRING", ""))
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            params.update(parse_qs(body.decode("utf-8", "replace")))
        action = params.get("Action", [None])[0]
    if not action and service:
        environ["wsgi.input"] = io.BytesIO(body)
        with contextlib.suppress(NotFound, NotImplementedError, UnknownServiceError, DataNotFoundError):
            operation, params = route(service, environ)
            action = operation.name
            # moto routes the same request again; speedups.route_once lets it use this one.
            environ[speedups.ROUTED] = {service: (operation, params)}
    environ["wsgi.input"] = io.BytesIO(body)
    account = (
        os.environ.get("MOTO_ACCOUNT_ID")
        or environ.get("HTTP_X_MOTO_ACCOUNT_ID")
        or get_account_id_from(access_key or "")
    )
    return {
        "method": environ["REQUEST_METHOD"],
        "path": environ.get("PATH_INFO", ""),
        "service": service or (target.split(".", 1)[0] or None),
        "action": action,
        "account": account,
        "user_agent": environ.get("HTTP_USER_AGENT"),
    }


class SandboxMiddleware:
    """Logs every request moto handles and serves /_sandbox/ itself.

    `apiserver` is the sandbox kube-apiserver's URL, for the TokenReview webhook: the EKS
    clusters whose endpoint it is are the ones the webhook authenticates for.
    """

    def __init__(self, app: Callable[..., Any], apiserver: str | None = None, fast_path: Any = None):
        self.app = app
        self.apiserver = apiserver
        self.fast_path = fast_path  # fastpath.FastPath: EKS reads past Flask
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_sandbox/"):
            EKS_READS.note(None, environ)
            status, body = self.sandbox(environ["REQUEST_METHOD"], path, environ)
            payload = json.dumps(body).encode()
            start_response(
                status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
            )
            return [payload]
        if path == "/moto-api/reset":
            credentials.clear_disabled_regions()
            faults.reset()
        entry = describe_request(environ)
        entry["at"] = round(time.monotonic(), 6)  # when moto took it; "ms": until it answered
        with self.lock:
            self.requests.append(entry)

        def logged_start_response(status: str, headers: Any, *rest: Any) -> Any:
            # The answer's status code, so tests can tell a refused write from a done one.
            entry["status"] = int(status.split(" ", 1)[0])
            entry["ms"] = round((time.monotonic() - entry["at"]) * 1000, 3)
            return start_response(status, headers, *rest)

        refused = credentials.refusal(environ, logged_start_response)
        if refused is not None:
            entry["refused"] = True
            return refused
        fault = faults.take(entry["action"], path, environ["wsgi.input"].getvalue())
        if fault is not None:
            failed = faults.answer(fault, entry["service"], logged_start_response)
            if failed is not None:
                # Logged as sent, and marked: the server refused it, nothing was written.
                entry["faulted"] = fault["code"]
                return failed
        app = self.app
        if self.fast_path is not None and entry["service"] in FAST_SERVICES:
            app = self.fast_or_moto
        EKS_READS.note(entry["service"], environ)
        # With the fast path, EKS's cluster reads are answered again until a write (read_cache.py).
        key = EKS_READS.key(entry, environ) if self.fast_path is not None else None
        if key is not None:
            replayed = EKS_READS.replay(key, environ, logged_start_response)
            if replayed is not None:
                return replayed
            return EKS_READS.remembering(key, app, environ, logged_start_response)
        if entry["service"] in credentials.QUERY_SERVICES:
            return query_error_as_aws_writes_it(app, environ, logged_start_response)
        return app(environ, logged_start_response)

    def fast_or_moto(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        answered = self.fast_path.answer(environ, start_response)
        return self.app(environ, start_response) if answered is None else answered

    def sandbox(self, method: str, path: str, environ: dict[str, Any]) -> tuple[str, Any]:
        """The sandbox-only routes: the request log, the cluster override, the regions an
        account has not enabled, expiring a role session's credentials now, faults
        (faults.py), and the TokenReview webhook of the sandbox kube-apiserver. None of them
        is in the request log."""
        if (method, path) == ("GET", "/_sandbox/requests"):
            with self.lock:
                return "200 OK", list(self.requests)
        if (method, path) == ("POST", "/_sandbox/requests/reset"):
            with self.lock:
                self.requests.clear()
            return "200 OK", {}
        if (method, path) == ("POST", "/_sandbox/eks/cluster"):
            return override_cluster(json.loads(read_body(environ) or b"{}"))
        if (method, path) == ("POST", "/_sandbox/eks/clusters"):
            return many_clusters(json.loads(read_body(environ) or b"{}"))
        if (method, path) == ("POST", "/_sandbox/regions"):
            request = json.loads(read_body(environ) or b"{}")
            if not request.get("account") or not isinstance(request.get("disabled"), list):
                return "400 Bad Request", {"message": "give account and disabled (a list of regions)"}
            credentials.set_disabled_regions(request["account"], request["disabled"])
            return "200 OK", credentials.disabled_regions()
        if (method, path) == ("POST", "/_sandbox/credentials/expire"):
            request = json.loads(read_body(environ) or b"{}")
            if not credentials.expire_session(str(request.get("accessKeyId", ""))):
                return "404 Not Found", {"message": "no role session has that accessKeyId"}
            return "200 OK", {}
        if (method, path) == ("GET", "/_sandbox/faults"):
            return "200 OK", faults.listed()
        if (method, path) == ("POST", "/_sandbox/faults"):
            try:
                request = json.loads(read_body(environ) or b"{}")
            except ValueError:
                return "400 Bad Request", {"message": "the body is not JSON"}
            return faults.add(request)
        if (method, path) == ("POST", "/_sandbox/faults/reset"):
            faults.reset()
            return "200 OK", []
        if (method, path) == ("POST", "/_sandbox/tokenreview"):
            return token_review(read_body(environ), self.apiserver)
        return "404 Not Found", {"message": f"No sandbox route {method} {path}"}


def query_error_as_aws_writes_it(app: Callable[..., Any], environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    """moto writes its IAM-enforcement refusals of query-protocol calls (STS, IAM) as
    `<ErrorResponse><Errors><Error>` in text/html, which the Rust SDK cannot parse; AWS writes
    `<ErrorResponse><Error>...</Error><RequestId>` in text/xml. Other answers pass untouched."""
    captured: dict[str, Any] = {}

    def capture(status: str, headers: Any, *rest: Any) -> Any:
        captured.update(status=status, headers=headers, rest=rest)
        return lambda _data: None

    body = b"".join(app(environ, capture))
    status, headers = captured["status"], list(captured["headers"])
    if status.startswith("4") and b"<Errors><Error>" in body:
        body = body.replace(b"<Errors><Error>", b"<Error>").replace(
            b"</Error></Errors>", b"</Error><RequestId>" + os.urandom(8).hex().encode() + b"</RequestId>"
        )
        headers = [(k, v) for k, v in headers if k.lower() not in ("content-type", "content-length")]
        headers += [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))]
    start_response(status, headers, *captured["rest"])
    return [body]


def token_review(body: bytes, apiserver: str | None) -> tuple[str, Any]:
    """Answers a TokenReview; a rejected token is a 200 with authenticated false, so the
    apiserver neither retries nor backs off."""
    try:
        request = json.loads(body)
    except ValueError:
        return "400 Bad Request", {"message": "the body is not JSON"}
    if not isinstance(request, dict) or request.get("kind") != "TokenReview":
        return "400 Bad Request", {"message": "the body is not a TokenReview"}
    return "200 OK", tokenreview.review(request, apiserver)


def many_clusters(request: dict[str, Any]) -> tuple[str, Any]:
    """Creates (or with "delete": true deletes) the clusters `names` of an account and region
    at once, as CreateCluster would with authentication mode API: for tests that need hundreds,
    which one CreateCluster call each would take a minute to make."""
    missing = [key for key in ("account", "region", "names") if not request.get(key)]
    if missing:
        return "400 Bad Request", {"message": f"Missing fields: {', '.join(missing)}"}
    backend = eks_backends[request["account"]][request["region"]]
    # moto checks a role ARN by loading botocore's endpoint data each time (~0.1 s a cluster):
    # remember the ARNs it accepted (a refusal raises, so it is not remembered).
    if not hasattr(moto_eks_models.validate_role_arn, "cache_info"):
        moto_eks_models.validate_role_arn = functools.lru_cache(maxsize=64)(
            moto_eks_models.validate_role_arn
        )
    partition = "aws" if not request["region"].startswith(("cn-", "us-gov-")) else (
        "aws-cn" if request["region"].startswith("cn-") else "aws-us-gov"
    )
    done = []
    for name in request["names"]:
        if request.get("delete"):
            if name in backend.clusters:
                backend.delete_cluster(name)
                done.append(name)
            continue
        if name in backend.clusters:
            continue
        cluster = backend.create_cluster(
            name=name,
            role_arn=f"arn:{partition}:iam::{request['account']}:role/eks-cluster-role",
            resources_vpc_config={"subnetIds": [], "endpointPublicAccess": True},
            version=request.get("version", "1.35"),
            tags=request.get("tags") or {},
        )
        cluster.access_config.update({"authenticationMode": "API"})
        done.append(name)
    return "200 OK", {"done": done}


def override_cluster(request: dict[str, Any]) -> tuple[str, Any]:
    """Points an existing moto cluster at other endpoint, CA and OIDC issuer values, or puts
    it in another status (CREATING, DELETING, FAILED, ...)."""
    missing = [key for key in ("account", "region", "name") if not request.get(key)]
    if missing:
        return "400 Bad Request", {"message": f"Missing fields: {', '.join(missing)}"}
    cluster = eks_backends[request["account"]][request["region"]].clusters.get(request["name"])
    if cluster is None:
        return "404 Not Found", {"message": f"No cluster found for name: {request['name']}."}
    for field, apply in CLUSTER_FIELDS.items():
        if field in request:
            apply(cluster, request[field])
    return "200 OK", {
        "name": cluster.name,
        "endpoint": cluster.endpoint,
        "caData": cluster.certificate_authority["data"],
        "oidcIssuer": cluster.identity["oidc"]["issuer"],
        "status": cluster.status,
    }
