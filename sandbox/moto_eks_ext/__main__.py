"""Serves moto with the EKS extension: python -m moto_eks_ext --host H --port N."""

import argparse
import os
import signal
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

from . import faults, install
from .eks_auth import EksAuthApp
from .fastpath import FastPath
from .middleware import SandboxMiddleware
from .serving import EventLoopWSGIServer


def stop(*_: object) -> None:
    """SIGTERM: the logs flushed, then out at once. The server keeps nothing to save, and the
    interpreter's clean-up with moto loaded takes ~0.6 s (over 10 s on a loaded machine, which
    made a test's teardown time out)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m moto_eks_ext", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--apiserver",
        help="the sandbox kube-apiserver's URL: the TokenReview webhook authenticates for the "
        "EKS clusters whose endpoint it is (default: any cluster with a loopback endpoint)",
    )
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto_server: moto may call itself
    # MOTO_EKS_EXT_PLAIN=1: moto as it comes (werkzeug's server, no speed-ups), to compare.
    plain = os.environ.get("MOTO_EKS_EXT_PLAIN") == "1"
    install(speedups=not plain)
    signal.signal(signal.SIGTERM, stop)
    dispatcher = DomainDispatcherApplication(create_backend_app)
    fast_path = None if plain else FastPath(dispatcher)
    app = SandboxMiddleware(EksAuthApp(dispatcher), apiserver=args.apiserver, fast_path=fast_path)
    if plain:
        run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
        return
    server = EventLoopWSGIServer(args.host, args.port, app, hold=faults.holding)
    print(f" * Running on http://{args.host}:{server.port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
