"""A shorter way through moto for the EKS reads (GET, no body): moto's own EKSResponse handler
and serializer, without Flask's request context, URL map and after-request machinery.

An EKS GET reaches moto's handler through DomainDispatcherApplication -> Flask (request and
app contexts, a URL map match that leads every EKS path to the same EKSResponse.dispatch,
flask-cors's after_request) -> convert_to_flask_response -> BaseResponse.setup_class, whose
costly part (reading the body and form through Flask's debug helpers) has nothing to read for a
GET without a body. Here the request goes to the same handler with what setup_class would have
set for it, and moto's call_action runs as ever: IAM enforcement, the handler, errors (not
found and the like) serialized by moto. The answer is then wrapped as Flask would: moto's
headers, Content-Length, and flask-cors's headers for a request without an Origin.
tests/test_speedups.py checks status, headers and body against the Flask way for each read.

Anything else (another service, a body, an Origin, moto's recorder on, no flask-cors found in
the app) goes the usual way.
"""

from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from botocore.exceptions import ClientError
from flask import Response
from flask import signals as flask_signals
from moto.core import responses as moto_responses
from moto.eks.responses import EKSResponse
from moto.iam.models import mark_account_as_visited
from moto.moto_api import recorder
from moto.moto_server.werkzeug_app import BackendRequest, DomainDispatcherApplication
from moto.utilities.utils import get_partition

from .speedups import ROUTED

_ABSENT = object()


class FastPath:
    """Serves EKS GETs without a body through moto's handler; None for everything else."""

    def __init__(self, dispatcher: DomainDispatcherApplication):
        self.dispatcher = dispatcher
        self._cors: Any = _ABSENT  # flask-cors's resources of the EKS app, once found

    def answer(self, environ: dict[str, Any], start_response: Any) -> Any:
        routed = environ.get(ROUTED, {}).get("eks")
        if (
            routed is None
            or environ["REQUEST_METHOD"] != "GET"
            or environ.get("CONTENT_LENGTH") not in (None, "", "0")
            or "HTTP_TRANSFER_ENCODING" in environ
            or "HTTP_CONTENT_ENCODING" in environ
            or "HTTP_ORIGIN" in environ
            or "HTTP_X_AMZ_TARGET" in environ
            or "HTTP_ACTION" in environ
            or recorder._user_enabled  # type: ignore[attr-defined]
            or flask_signals.request_started.receivers
            or flask_signals.request_finished.receivers
        ):
            return None
        cors = self.cors_resources(environ)
        if cors is None:
            return None
        request = BackendRequest(environ)
        response = EKSResponse()
        if not self.setup(response, request):
            return None
        try:  # as convert_to_flask_response
            status, headers, body = response.call_action()
        except ClientError as exc:
            status, headers, body = 400, {}, exc.response["Error"]["Message"]
        answer = Response(response=body, status=status, headers=headers)
        self.add_cors_headers(answer, request, cors)
        return answer(environ, start_response)

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

    def cors_resources(self, environ: dict[str, Any]) -> Any:
        """flask-cors's (pattern, options) list of moto's EKS app, when the app has nothing
        else that runs around a request (before/after/teardown functions, a session); None:
        serve through Flask."""
        if self._cors is _ABSENT:
            app = self.dispatcher.get_application(environ)
            self._cors = None
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
                and app.url_map.converters  # the app was built (a URL map)
            ):
                cell = after[0].__closure__[after[0].__code__.co_freevars.index("resources")]
                self._cors = cell.cell_contents
        return self._cors

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
