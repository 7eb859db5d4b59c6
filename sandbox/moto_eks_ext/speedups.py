"""moto's per-request work cut where its answer cannot change: memos of pure functions of
static data (the botocore model, moto's classes and URL patterns), and one routing of a
REST request instead of three.

scripts/bench's 500-cluster discovery waits on moto, which serves one request at a time
(Python's GIL); sandbox/moto_load.py measures the CPU each change saves. Each memo is keyed
on everything the function reads; tests/test_speedups.py checks the answers are those of
moto without these patches.
"""

from typing import Any

from moto.core import responses as moto_responses
from moto.core import serialize
from moto.core.responses import BaseResponse
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

# environ key: describe_request's routing of a REST request, {service: (operation, params)}.
ROUTED = "moto_eks_ext.routed"
_ABSENT = object()
_installed: dict[str, Any] = {}


def install() -> None:
    """Installs every speed-up (once)."""
    if _installed:
        return
    memo_possible_keys()
    route_once()
    memo_method_names()
    memo_backend_for_host()


def uninstall() -> None:
    """Puts moto's own functions back (for tests comparing answers with and without)."""
    for (owner, name), original in _installed.items():
        setattr(owner, name, original)
    _installed.clear()


def _patch(owner: Any, name: str, replacement: Any) -> None:
    original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    _installed.setdefault((owner, name), original)
    setattr(owner, name, replacement)


def memo_possible_keys() -> None:
    """The serializer's attribute picker tries, for each member of each shape it writes, the
    names an attribute may have (aliases from the model, the class name, snake_case): a third
    of a DescribeCluster. They are a function of the member's key, its shape and the shape's
    parent (model data, fixed), the object's class name, and the object's explicit alias
    (`Meta.serialization_aliases`, looked up each time); the memo is keyed on all five."""
    original = serialize.XFormedAttributePicker.get_possible_keys
    defaults = serialize.DEFAULT_ALIAS_PROVIDERS
    if defaults[0] is not serialize.ExplicitAlias:
        return  # not the providers this memo knows
    memo: dict[tuple[Any, ...], tuple[Any, Any, tuple[str, ...]]] = {}

    def get_possible_keys(self: Any, context: Any) -> Any:
        shape = context.shape
        parent = getattr(shape, "parent", _ABSENT)
        if self.alias_providers is not defaults or shape is None or parent is None:
            return original(self, context)
        obj, key = context.obj, context.key
        explicit = None
        meta = getattr(obj, "Meta", _ABSENT)
        if meta is not _ABSENT:
            aliases = getattr(meta, "serialization_aliases", _ABSENT)
            if aliases is not _ABSENT and key in aliases:
                explicit = aliases[key]
        memo_key = (key, id(shape), id(parent), obj.__class__.__name__, explicit)
        hit = memo.get(memo_key)
        if hit is not None and hit[0] is shape and hit[1] is parent:
            return hit[2]
        keys = tuple(original(self, context))
        memo[memo_key] = (shape, parent, keys)  # holds them: their ids stay theirs
        return keys

    _patch(serialize.XFormedAttributePicker, "get_possible_keys", get_possible_keys)


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
