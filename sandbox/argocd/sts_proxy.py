"""A loopback HTTPS proxy that hands Argo CD's STS calls to the sandbox's moto.

argocd-k8s-auth v3.2 (aws-sdk-go v1) ignores AWS_ENDPOINT_URL and calls the real STS hosts
(sts.amazonaws.com, sts.<region>.amazonaws.com). Argo CD's processes get HTTPS_PROXY
pointing here: a CONNECT to an STS host on port 443 is answered by this proxy itself with a
certificate for that host signed by the sandbox CA (those processes trust it through
AWS_CA_BUNDLE / SSL_CERT_FILE), and each request inside is forwarded to moto with its
Host header kept. Every other CONNECT is refused: nothing leaves the machine.

    python sts_proxy.py --port N --moto-url http://127.0.0.1:M --ca-cert ca.crt --ca-key ca.key
"""

import argparse
import datetime
import http.client
import re
import socket
import socketserver
import ssl
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

STS_HOST = re.compile(r"^sts(\.[a-z0-9-]+)?\.amazonaws\.com(\.cn)?$")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "transfer-encoding", "upgrade"}


def log(message: str) -> None:
    print(f"sts-proxy: {message}", file=sys.stderr, flush=True)


class Certificates:
    """Server certificates for the STS hosts, made on first use and signed by the sandbox CA."""

    def __init__(self, ca_cert: Path, ca_key: Path):
        self.ca = x509.load_pem_x509_certificate(ca_cert.read_bytes())
        self.ca_key = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.dir = Path(tempfile.mkdtemp(prefix="sts-proxy-"))
        self.contexts: dict[str, ssl.SSLContext] = {}
        self.lock = threading.Lock()

    def context(self, host: str) -> ssl.SSLContext:
        with self.lock:
            if host not in self.contexts:
                now = datetime.datetime.now(datetime.timezone.utc)
                cert = (
                    x509.CertificateBuilder()
                    .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
                    .issuer_name(self.ca.subject)
                    .public_key(self.key.public_key())
                    .serial_number(x509.random_serial_number())
                    .not_valid_before(now - datetime.timedelta(minutes=5))
                    .not_valid_after(now + datetime.timedelta(days=30))
                    .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
                    .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                    .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                    .sign(self.ca_key, hashes.SHA256())
                )
                pem = self.dir / f"{host}.pem"
                pem.write_bytes(
                    cert.public_bytes(serialization.Encoding.PEM)
                    + self.key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.TraditionalOpenSSL,
                        serialization.NoEncryption(),
                    )
                )
                pem.chmod(0o600)
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(pem)
                self.contexts[host] = ctx
            return self.contexts[host]


def read_head(stream) -> tuple[str, list[tuple[str, str]]] | None:
    line = stream.readline(65537)
    if not line:
        return None
    headers = []
    while True:
        h = stream.readline(65537)
        if h in (b"\r\n", b"\n", b""):
            break
        name, _, value = h.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return line.decode("latin-1").rstrip("\r\n"), headers


def header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


class Handler(socketserver.StreamRequestHandler):
    server: "Proxy"

    def reply(self, stream, status: str, body: bytes = b"", headers: list[tuple[str, str]] | None = None) -> None:
        lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers or []]
        lines.append(f"Content-Length: {len(body)}")
        stream.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        stream.flush()

    def handle(self) -> None:
        head = read_head(self.rfile)
        if head is None:
            return
        request_line, _ = head
        method, target, _ = (request_line.split(" ") + ["", ""])[:3]
        host, _, port = target.rpartition(":")
        if method != "CONNECT" or port != "443" or not STS_HOST.match(host):
            log(f"refused {request_line!r}")
            self.reply(self.wfile, "403 Forbidden", f"the sandbox proxy only serves STS, not {target}\n".encode())
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        try:
            tls = self.server.certificates.context(host).wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError) as error:
            log(f"TLS handshake for {host} failed: {error}")
            return
        stream = tls.makefile("rwb")
        try:
            while self.forward(stream, host):
                pass
        except (OSError, ssl.SSLError):
            pass
        finally:
            stream.close()
            tls.close()

    def forward(self, stream, host: str) -> bool:
        head = read_head(stream)
        if head is None:
            return False
        request_line, headers = head
        method, path, _ = (request_line.split(" ") + ["", ""])[:3]
        length = int(header(headers, "content-length") or 0)
        body = stream.read(length) if length else b""
        moto = urlsplit(self.server.moto_url)
        upstream = http.client.HTTPConnection(moto.hostname, moto.port, timeout=30)
        try:
            upstream.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in headers:
                if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                    upstream.putheader(k, v)
            upstream.putheader("Content-Length", str(len(body)))
            upstream.endheaders(body)
            response = upstream.getresponse()
            data = response.read()
            out = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP | {"content-length"}]
        except OSError as error:
            log(f"moto unreachable for {method} {host}{path}: {error}")
            self.reply(stream, "502 Bad Gateway", b"moto is not reachable\n")
            return False
        finally:
            upstream.close()
        detail = ""
        if response.status >= 300:
            # STS's XML error: say its code and message (never a credential).
            code = re.search(rb"<Code>([^<]*)</Code>", data)
            text = re.search(rb"<Message>([^<]*)</Message>", data)
            detail = f" {(code[1] if code else b'').decode()}: {(text[1] if text else b'').decode()}"
        log(f"{method} https://{host}{path} -> {response.status}{detail}")
        self.reply(stream, f"{response.status} {response.reason}", data, out)
        return (header(headers, "connection") or "").lower() != "close"


class Proxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, moto_url: str, certificates: Certificates):
        super().__init__(("127.0.0.1", port), Handler)
        self.moto_url = moto_url
        self.certificates = certificates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--moto-url", required=True)
    parser.add_argument("--ca-cert", type=Path, required=True)
    parser.add_argument("--ca-key", type=Path, required=True)
    args = parser.parse_args()
    proxy = Proxy(args.port, args.moto_url, Certificates(args.ca_cert, args.ca_key))
    log(f"listening on 127.0.0.1:{args.port}, STS -> {args.moto_url}")
    socket.setdefaulttimeout(None)
    proxy.serve_forever()


if __name__ == "__main__":
    main()
