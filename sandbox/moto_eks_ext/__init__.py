"""moto extension: the EKS APIs moto 5.2 lacks, a request log and sandbox-only routes."""

from .backend import patch_backend
from .responses import patch_responses
from .routes import add_routes
from .trust import patch_sts


def install(speedups: bool = True) -> None:
    """Patch moto's EKS routes, handlers and backend; call once, before serving. `speedups`:
    moto's per-request work cut where its answers cannot change (speedups.py)."""
    add_routes()
    patch_backend()
    patch_responses()
    patch_sts()
    cache_module_list()
    if speedups:
        from . import speedups as fast

        fast.install()


def cache_module_list() -> None:
    """moto's dispatcher lists its package directory (an isdir per module, ~170) for every
    request to find the backend; the listing cannot change while it serves, so list it once.
    A quarter of the CPU time of a DescribeCluster; scripts/bench's 500-cluster discovery
    waits on moto, which serves one request at a time."""
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
