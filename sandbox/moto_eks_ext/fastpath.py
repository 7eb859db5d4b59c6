"""A shorter way through moto: its Flask app's view without Flask's request context, and for
the EKS reads (GET, no body) moto's own handler without the part of setup_class that reads a
body there is none of.

A request reaches moto's handler through DomainDispatcherApplication -> Flask (request and app
contexts, the URL map, flask-cors's after_request) -> convert_to_flask_response (the view) ->
BaseResponse.dispatch -> setup_class (reading body and form through Flask's debug helpers)
-> call_action. Here the same view is found in the same URL map and called as
convert_to_flask_response calls it, and its answer wrapped as Flask wraps it: moto's headers,
Content-Length, flask-cors's headers (for a request without an Origin). For an EKS GET
without a body the view's EKSResponse gets what setup_class would set (there is no body or
form to read) and moto's call_action runs as ever: IAM enforcement, the handler, errors
serialized by moto. tests/test_speedups.py checks status, headers and body against Flask's
way for each read, and for requests Flask answers itself (a URL not in the map).

Anything else (no view in the map, an Origin, moto's recorder on, Flask signals listened to,
an app with more than flask-cors around its requests) goes the usual way.
"""

from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from botocore.exceptions import ClientError
from flask import Response
from flask import signals as flask_signals
from moto.core import responses as moto_responses
from moto.core.responses import BaseResponse
from moto.core.utils import convert_to_flask_response
from moto.eks.responses import EKSResponse
from moto.iam.models import mark_account_as_visited
from moto.moto_api import recorder
from moto.moto_server.werkzeug_app import BackendRequest, DomainDispatcherApplication
from moto.utilities.utils import get_partition
from werkzeug.exceptions import HTTPException

from .speedups import ROUTED

_ABSENT = object()
_DISPATCH = BaseResponse.__dict__["dispatch"].__func__
# What the URL map's match reads of the environ (bind_to_environ and match).
_MATCHED_BY = ("HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "wsgi.url_scheme", "SCRIPT_NAME", "PATH_INFO", "REQUEST_METHOD", "QUERY_STRING")


class FastPath:
    """Serves requests through moto's view without Flask; None: serve them through Flask."""

    def __init__(self, dispatcher: DomainDispatcherApplication):
        self.dispatcher = dispatcher
        self._apps: dict[int, Any] = {}  # id(app) -> (app, flask-cors resources or None)
        self._views: dict[tuple[Any, ...], Any] = {}  # URL map matches

    def answer(self, environ: dict[str, Any], start_response: Any) -> Any:
        if (
            "HTTP_ORIGIN" in environ
            or recorder._user_enabled  # type: ignore[attr-defined]
            or flask_signals.request_started.receivers
            or flask_signals.request_finished.receivers
            or flask_signals.got_request_exception.receivers
        ):
            return None
        app = self.dispatcher.get_application(environ)
        cors = self.cors_resources(app)
        if cors is None:
            return None
        view = self.view(app, environ)
        if view is None:
            return None
        request = BackendRequest(environ)
        try:  # as convert_to_flask_response
            result = self.eks_read(view, request)
            if result is None:
                result = view.callback(request, request.raw_url, dict(request.headers))
        except ClientError as exc:
            result = 400, {}, exc.response["Error"]["Message"]
        except HTTPException as exc:  # Flask answers with the exception itself
            answer = Response.force_type(exc, environ)  # type: ignore[arg-type]
            self.add_cors_headers(answer, request, cors)
            return answer(environ, start_response)
        status, headers, content = result if len(result) == 3 else (200, {}, result)
        answer = Response(response=content, status=status, headers=headers)
        if request.method == "HEAD" and "content-length" in headers:
            answer.headers["Content-Length"] = headers["content-length"]
        self.add_cors_headers(answer, request, cors)
        return answer(environ, start_response)

    def view(self, app: Any, environ: dict[str, Any]) -> Any:
        """The view Flask's URL map gives this request (convert_to_flask_response), or None
        (not found, a redirect, another kind of view: Flask answers)."""
        key = (id(app), *(environ.get(name) for name in _MATCHED_BY))
        known = self._views.get(key)
        if known is not None and known[0] is app:
            return known[1]
        config = app.config
        if config["TRUSTED_HOSTS"] is not None or config["SERVER_NAME"] is not None or app.subdomain_matching:
            return None
        adapter = app.url_map.bind_to_environ(environ, server_name=None, subdomain=app.url_map.default_subdomain or "")
        try:
            rule, _ = adapter.match(return_rule=True)
        except HTTPException:
            return None
        view = app.view_functions.get(rule.endpoint)
        if type(view) is not convert_to_flask_response:
            return None
        if len(self._views) > 20000:
            self._views.clear()
        self._views[key] = (app, view)
        return view

    def eks_read(self, view: Any, request: BackendRequest) -> Any:
        """moto's EKSResponse for a GET without a body, without the body reading in
        setup_class; None when this is not one (dispatch serves it)."""
        environ = request.environ
        callback = view.callback
        if (
            environ["REQUEST_METHOD"] != "GET"
            or getattr(callback, "__self__", None) is not EKSResponse
            or getattr(callback, "__func__", None) is not _DISPATCH
            or "eks" not in environ.get(ROUTED, {})
            or environ.get("CONTENT_LENGTH") not in (None, "", "0")
            or "HTTP_TRANSFER_ENCODING" in environ
            or "HTTP_CONTENT_ENCODING" in environ
            or "HTTP_X_AMZ_TARGET" in environ
            or "HTTP_ACTION" in environ
        ):
            return None
        response = EKSResponse()
        if not self.setup(response, request):
            return None
        return response.call_action()

    @staticmethod
    def setup(response: EKSResponse, request: BackendRequest) -> bool:
        """BaseResponse.setup_class for a GET without a body (no form, no files, nothing to
        decompress: request.data is b""); False when the query names an Action (moto would
        take that as the operation)."""
        response.is_werkzeug_request = request.from_wsgi_server
        full_url = request.raw_url
        headers = request.headers
        response.normalized_request = request
        response.parsed_url = urlparse(full_url)
        response.body = ""
        response.raw_body = b""
        querystring: dict[str, Any] = OrderedDict()
        querystring.update(parse_qs(response.parsed_url.query, keep_blank_values=True))
        if not querystring:
            querystring.update(headers)
        if "Action" in querystring:
            return False
        try:
            querystring = moto_responses._decode_dict(querystring)
        except UnicodeDecodeError:
            pass
        response.uri = full_url
        response.path = response.parsed_url.path
        response.raw_path = request.raw_path
        response.querystring = querystring
        response.data = querystring
        response.method = request.method
        response.region = response.get_region_from_url(request, full_url)
        response.partition = get_partition(response.region)
        response.uri_match = {}
        if "host" not in request.headers:
            request.environ["HTTP_HOST"] = response.parsed_url.netloc
        response.headers = request.headers
        response.response_headers = {"server": "amazon.com"}
        if not response.is_werkzeug_request:
            return False
        response.access_key = response.get_access_key()
        response.current_account = response.get_current_account()
        mark_account_as_visited(
            account_id=response.current_account,
            access_key=response.access_key,
            service=response.service_name,  # type: ignore[arg-type]
            region=response.region,
        )
        return True

    def cors_resources(self, app: Any) -> Any:
        """flask-cors's (pattern, options) list of a moto app, when the app has nothing else
        that runs around a request (before/after/teardown functions, a session); None: serve
        through Flask."""
        known = self._apps.get(id(app))
        if known is not None and known[0] is app:
            return known[1]
        resources = None
        after = app.after_request_funcs.get(None, [])
        if (
            len(app.after_request_funcs) == 1
            and len(after) == 1
            and after[0].__name__ == "cors_after_request"
            and "resources" in after[0].__code__.co_freevars
            and not any(app.before_request_funcs.values())
            and not any(app.teardown_request_funcs.values())
            and not app.teardown_appcontext_funcs
            and not any(app.url_value_preprocessors.values())
            and app.secret_key is None  # no session to open or save
            and not app.blueprints
        ):
            cell = after[0].__closure__[after[0].__code__.co_freevars.index("resources")]
            resources = cell.cell_contents
        self._apps[id(app)] = (app, resources)
        return resources

    @staticmethod
    def add_cors_headers(answer: Response, request: BackendRequest, resources: Any) -> None:
        """flask-cors's cors_after_request and set_cors_headers, for this request."""
        from flask_cors import core

        if answer.headers is not None and answer.headers.get(core.ACL_ORIGIN):
            return
        path = unquote(request.path)
        for pattern, options in resources:
            if core.try_match_pattern(path, pattern, caseSensitive=True):
                if hasattr(answer, core.FLASK_CORS_EVALUATED):
                    return
                for key, value in core.get_cors_headers(options, request.headers, request.method).items():
                    answer.headers.add(key, value)
                return
