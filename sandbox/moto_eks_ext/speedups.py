"""moto's per-request work cut where its answer cannot change: memos of pure functions of
static data (the botocore model, moto's classes and URL patterns), and one routing of a
REST request instead of three.

scripts/bench's 500-cluster discovery waits on moto, which serves one request at a time
(Python's GIL); sandbox/moto_load.py measures the CPU each change saves. Each memo is keyed
on everything the function reads; sandbox/tests/test_speedups.py checks the answers are those of
moto without these patches.
"""

import functools
import string
from typing import Any

from moto.core import responses as moto_responses
from moto.core import routing
from moto.core.responses import BaseResponse
from moto.moto_api._internal import mock_random
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from werkzeug.sansio import request as werkzeug_request

from . import serializer

# environ key: describe_request's routing of a REST request, {service: (operation, params)}.
ROUTED = "moto_eks_ext.routed"
_installed: dict[str, Any] = {}


def install() -> None:
    """Installs every speed-up (once)."""
    if _installed:
        return
    serializer.memo_possible_keys(_patch)
    serializer.fast_json_structures(_patch)
    route_once()
    memo_rest_rules()
    memo_method_names()
    memo_backend_for_host()
    memo_current_url()
    request_id_where_it_is()
    request_id_in_one_draw()


def uninstall() -> None:
    """Puts moto's own functions back (for tests comparing answers with and without)."""
    for (owner, name), original in _installed.items():
        setattr(owner, name, original)
    _installed.clear()


def _patch(owner: Any, name: str, replacement: Any) -> None:
    original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    _installed.setdefault((owner, name), original)
    setattr(owner, name, replacement)


def route_once() -> None:
    """moto routes a REST request (method and path against the model's URIs) once to name the
    action and again when it serializes the answer, after our request log routed it to name
    the action: one routing serves all three. The log's routing is stashed in the environ
    (middleware.describe_request) for moto's service of the same name; each BaseResponse
    remembers its own, for the request it was set up with."""
    original = BaseResponse._get_action_from_method_and_request_uri

    def _get_action_from_method_and_request_uri(self: BaseResponse, request: Any) -> str:
        mine = self.__dict__.get("_moto_eks_ext_route")
        if mine is not None and mine[0] is request:
            self.uri_match = dict(mine[2])
            return mine[1]
        routed = getattr(request, "environ", {}).get(ROUTED, {}).get(self.boto3_service_name)
        if routed is not None:
            operation, params = routed
            self.uri_match = dict(params)
            name = operation.name
        else:
            name = original(self, request)
            if name is None:
                return name
        self.__dict__["_moto_eks_ext_route"] = (request, name, dict(self.uri_match))
        return name

    _patch(BaseResponse, "_get_action_from_method_and_request_uri", _get_action_from_method_and_request_uri)


def memo_rest_rules() -> None:
    """moto's REST router binds its werkzeug URL map to the request's host and matches the
    path and method (a state machine over every URI of the service) for each request; the
    rule and path arguments are a function of host, path and method (the map is fixed), so
    they are remembered. The rule's own check of the query and headers (which of the
    operations sharing a URI) still runs for each request."""
    limit = 20000

    def _match(self: Any, request: Any) -> Any:
        path = self._get_path(request)
        memo = self.__dict__.setdefault("_moto_eks_ext_rules", {})  # this router's own map
        key = (request.host, path, request.method)
        known = memo.get(key)
        if known is None:
            matcher = self._map.bind(request.host)
            path_info = routing._get_path_info_for_matching(path)
            try:
                known = routing._match_path(matcher, path_info, request.method)
            except routing.MethodNotAllowed as e:
                raise routing.NotFound() from e
            if len(memo) >= limit:
                memo.clear()
            memo[key] = known
        rule, arguments = known
        assert isinstance(rule, routing.SmithyRule)
        return rule.match_request(request), routing.to_uri_params(arguments)

    if routing.RestRouter.__dict__["_match"].__code__.co_names != _RULES_MATCH_NAMES:
        return  # not moto 5.2's _match: leave it
    _patch(routing.RestRouter, "_match", _match)


# The names moto 5.2's RestRouter._match uses: memo_rest_rules follows that code.
_RULES_MATCH_NAMES = (
    "_map", "bind", "host", "_get_path_info_for_matching", "_get_path", "_match_path", "method",
    "MethodNotAllowed", "NotFound", "isinstance", "SmithyRule", "match_request", "to_uri_params",
)


def memo_method_names() -> None:
    """moto lists a response class's methods (inspect.getmembers) on every request to check
    the action is one; the classes get their methods when imported and from install(),
    before the first request."""
    original = moto_responses.method_names_from_class
    memo: dict[type, list[str]] = {}

    def method_names_from_class(clazz: Any) -> list[str]:
        names = memo.get(clazz)
        if names is None:
            names = memo[clazz] = original(clazz)
        return list(names)

    _patch(moto_responses, "method_names_from_class", method_names_from_class)


def memo_backend_for_host() -> None:
    """moto's dispatcher matches the host it inferred from the signature against every
    backend's URL patterns (hundreds of regular expressions) on each request; the patterns are
    fixed. Only found backends are remembered (a miss prints a hint each time, as before)."""
    original = DomainDispatcherApplication.get_backend_for_host

    def get_backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
        if host is None:
            return None
        memo = self.__dict__.setdefault("_moto_eks_ext_backends", {})  # of its own patterns
        backend = memo.get(host)
        if backend is None:
            backend = original(self, host)
            if backend is not None:
                memo[host] = backend
        return backend

    _patch(DomainDispatcherApplication, "get_backend_for_host", get_backend_for_host)


def memo_current_url() -> None:
    """werkzeug builds a request's root URL (moto's raw_url starts with it) from scheme, host
    and root path by quoting and IRI conversion each time; it is a function of its arguments
    (strings), remembered here."""
    original = werkzeug_request.get_current_url
    cached = functools.lru_cache(maxsize=4096)(original)

    def get_current_url(*args: Any, **kwargs: Any) -> str:
        try:
            return cached(*args, **kwargs)
        except TypeError:  # an argument that cannot be a key
            return original(*args, **kwargs)

    _patch(werkzeug_request, "get_current_url", get_current_url)


def request_id_where_it_is() -> None:
    """moto writes the request id into the body with a regular expression over all of it,
    `(?<=<RequestId>).*(?=</RequestId>)`; a body without "<RequestId>" (every JSON answer)
    has nothing it can match."""
    original = BaseResponse.__dict__["_enrich_response"].__func__

    def _enrich_response(headers: dict[str, Any], body: Any) -> tuple[dict[str, Any], Any]:
        if type(body) is str and "<RequestId>" not in body:
            if "status" in headers:
                headers["status"] = str(headers["status"])
            moto_responses.gen_amzn_requestid_long(headers)
            return headers, body
        return original(headers, body)

    _patch(BaseResponse, "_enrich_response", staticmethod(_enrich_response))


REQUEST_ID_CHARACTERS = string.ascii_letters + string.digits


def request_id_in_one_draw() -> None:
    """moto's x-amzn-requestid is 52 letters and digits drawn one `choice` call each from its
    seedable random source (an eighth of a ListClusters' time); here the same characters from
    the same source, drawn in one `choices` call."""

    def gen_amzn_requestid_long(headerdict: dict[str, Any] | None = None) -> str:
        request_id = "".join(mock_random.choices(REQUEST_ID_CHARACTERS, k=52))
        if isinstance(headerdict, dict):
            headerdict["x-amzn-requestid"] = request_id
        return request_id

    _patch(moto_responses, "gen_amzn_requestid_long", gen_amzn_requestid_long)
