"""Git's smart HTTP protocol on 127.0.0.1: `git http-backend` (Debian's git) behind a tiny server.

Serves every bare repository under --root at http://127.0.0.1:PORT/<name>.git, for fetch
(Argo CD's repo-server) and push (the tests). No authentication: loopback only.

    python git_server.py --port N --root DIR
"""

import argparse
import shutil
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit


def log(message: str) -> None:
    print(f"git-server: {message}", file=sys.stderr, flush=True)


class Handler(BaseHTTPRequestHandler):
    server: "GitServer"
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        log(format % args)

    def run_backend(self) -> None:
        parts = urlsplit(self.path)
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = self.read_chunked()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = {
            "PATH": "/usr/bin:/bin",
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            # http-backend allows receive-pack only for an authenticated user.
            "REMOTE_USER": "sandbox",
            "REMOTE_ADDR": self.client_address[0],
            "REQUEST_METHOD": self.command,
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
        }
        done = subprocess.run([self.server.backend], input=body, env=env, capture_output=True, check=False)
        if done.stderr:
            log(done.stderr.decode(errors="replace").strip())
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = done.stdout.partition(b"\n\n")
        status = "200 OK"
        headers = []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = value.strip()
            elif name:
                headers.append((name, value.strip()))
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def read_chunked(self) -> bytes:
        data = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return data
            data += self.rfile.read(size)
            self.rfile.readline()

    do_GET = run_backend  # noqa: N815 - http.server's names
    do_POST = run_backend  # noqa: N815


class GitServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, root: Path):
        super().__init__(("127.0.0.1", port), Handler)
        self.root = root
        git = shutil.which("git") or "git"
        exec_path = subprocess.run([git, "--exec-path"], capture_output=True, text=True, check=True).stdout.strip()
        self.backend = str(Path(exec_path) / "git-http-backend")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--root", type=Path, required=True)
    args = parser.parse_args()
    server = GitServer(args.port, args.root.resolve())
    log(f"serving {server.root} on http://127.0.0.1:{args.port}/")
    server.serve_forever()


if __name__ == "__main__":
    main()
