"""moto extension: the EKS APIs moto 5.2 lacks, a request log and sandbox-only routes."""

from .backend import patch_backend
from .responses import patch_responses
from .routes import add_routes
from .trust import patch_sts


def install() -> None:
    """Patch moto's EKS routes, handlers and backend; call once, before serving."""
    add_routes()
    patch_backend()
    patch_responses()
    patch_sts()
