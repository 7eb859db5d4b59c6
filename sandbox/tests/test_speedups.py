"""The speed-ups change no answer: moto_eks_ext's fast path and memos (speedups.py, fastpath.py)
against moto's own code on the same objects, and the event-loop server (serving.py).

In this process: one moto, served through the middleware three ways on the same backend
state -- the fast path, moto's Flask app with the speed-ups, and moto's Flask app with them
removed -- each request's status, headers and body must agree (request ids aside), after each
change of state too (the cluster override, tags, access config), so no memo can answer stale.
"""

import http.client
import io
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

SANDBOX = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SANDBOX))

from moto_eks_ext import install, speedups  # noqa: E402

install()

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app  # noqa: E402

from moto_eks_ext.eks_auth import EksAuthApp  # noqa: E402
from moto_eks_ext.fastpath import FastPath  # noqa: E402
from moto_eks_ext.middleware import SandboxMiddleware  # noqa: E402
from moto_eks_ext.read_cache import EKS_READS  # noqa: E402

ACCOUNT, REGION = "444455556666", "eu-west-3"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/speedups-role"
POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
AUTH = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261202/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0"
TRUST = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
)
REQUEST_ID = re.compile(rb"<RequestId>[^<]*</RequestId>")

DISPATCHER = DomainDispatcherApplication(create_backend_app)
FAST = SandboxMiddleware(EksAuthApp(DISPATCHER), fast_path=FastPath(DISPATCHER))
SLOW = SandboxMiddleware(EksAuthApp(DISPATCHER))


def environ(method: str, path: str, service: str = "eks", body: bytes = b"", query: str = "", ctype: str | None = None) -> dict:
    env = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REQUEST_URI": path + (f"?{query}" if query else ""),
        "RAW_URI": path + (f"?{query}" if query else ""),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "5000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:5000",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "HTTP_AUTHORIZATION": AUTH.format(region=REGION, service=service),
        "HTTP_X_MOTO_ACCOUNT_ID": ACCOUNT,
        "HTTP_USER_AGENT": "test_speedups",
    }
    if body:
        env["CONTENT_LENGTH"] = str(len(body))
    if ctype:
        env["CONTENT_TYPE"] = ctype
    return env


def call(app, *args, **kwargs) -> tuple[str, list, bytes]:
    started = {}

    def start_response(status, headers, exc_info=None):
        started.update(status=status, headers=headers)

    body = b"".join(app(environ(*args, **kwargs), start_response))
    return started["status"], started["headers"], body


def normalized(answer: tuple[str, list, bytes]) -> tuple[str, list, bytes]:
    status, headers, body = answer
    ids = [v for k, v in headers if k.lower() == "x-amzn-requestid"]
    assert all(re.fullmatch(r"[A-Za-z0-9]{52}", v) for v in ids), ids  # moto's shape, either way
    headers = [(k, "<id>" if k.lower() == "x-amzn-requestid" else v) for k, v in headers]
    return status, headers, REQUEST_ID.sub(b"<RequestId>-</RequestId>", body)


def three_ways(*args, **kwargs) -> tuple[str, list, bytes]:
    """The answer of the fast path, of Flask with the speed-ups and of moto as it comes;
    asserts they agree, returns it."""
    fast = normalized(call(FAST, *args, **kwargs))
    slow = normalized(call(SLOW, *args, **kwargs))
    speedups.uninstall()
    try:
        plain = normalized(call(SLOW, *args, **kwargs))
    finally:
        speedups.install()
    assert fast == slow == plain, (args, kwargs)
    return fast


def write(method: str, path: str, body: dict | None = None, service: str = "eks", **kwargs) -> tuple[str, list, bytes]:
    data = json.dumps(body).encode() if body is not None else b""
    answer = call(SLOW, method, path, service=service, body=data, ctype="application/json" if body is not None else None, **kwargs)
    assert answer[0].startswith("200"), answer
    return answer


def query(service: str, **params: str) -> tuple:
    body = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items()).encode()
    return ("POST", "/"), {"service": service, "body": body, "ctype": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def seeded():
    """Clusters in several states, with an add-on, a pod identity association, an access
    entry and policy, an IAM role and OIDC provider."""
    names = ["fast-a", "fast-b", "fast-c"]
    call(SLOW, "POST", "/_sandbox/eks/clusters", body=json.dumps({"account": ACCOUNT, "region": REGION, "names": names, "tags": {"team": "x"}}).encode())
    write(
        "POST",
        "/clusters",
        {
            "name": "fast-full",
            "version": "1.34",
            "roleArn": ROLE,
            "resourcesVpcConfig": {"subnetIds": ["subnet-1", "subnet-2"], "securityGroupIds": ["sg-1"], "endpointPrivateAccess": True},
            "kubernetesNetworkConfig": {"serviceIpv4Cidr": "10.100.0.0/16", "elasticLoadBalancing": {"enabled": True}},
            "logging": {"clusterLogging": [{"types": ["api", "audit"], "enabled": True}]},
            "encryptionConfig": [{"resources": ["secrets"], "provider": {"keyArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k"}}],
            "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP", "bootstrapClusterCreatorAdminPermissions": False},
            "computeConfig": {"enabled": True, "nodePools": ["general-purpose", "system"], "nodeRoleArn": ROLE},
            "storageConfig": {"blockStorage": {"enabled": True}},
            "tags": {"env": "prod", "owner": "platform"},
        },
    )
    cluster = names[0]
    write("POST", f"/clusters/{cluster}/addons", {"addonName": "eks-pod-identity-agent", "tags": {"a": "b"}})
    association = json.loads(
        write(
            "POST",
            f"/clusters/{cluster}/pod-identity-associations",
            {"namespace": "argocd", "serviceAccount": "argocd-server", "roleArn": ROLE, "tags": {"k": "v"}},
        )[2]
    )["association"]
    write("POST", f"/clusters/{cluster}/access-entries", {"principalArn": ROLE, "kubernetesGroups": ["g1"]})
    write(
        "POST",
        f"/clusters/{cluster}/access-entries/{quote(ROLE, safe='')}/access-policies",
        {"policyArn": POLICY, "accessScope": {"type": "namespace", "namespaces": ["argocd"]}},
    )
    args, kwargs = query("iam", Action="CreateRole", Version="2010-05-08", RoleName="speedups-role", AssumeRolePolicyDocument=TRUST)
    assert call(SLOW, *args, **kwargs)[0].startswith("200")
    args, kwargs = query(
        "iam",
        Action="CreateOpenIDConnectProvider",
        Version="2010-05-08",
        Url="https://oidc.eks.eu-west-3.amazonaws.com/id/SPEEDUPS",
        **{"ClientIDList.member.1": "sts.amazonaws.com", "ThumbprintList.member.1": "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"},
    )
    assert call(SLOW, *args, **kwargs)[0].startswith("200")
    return {"cluster": cluster, "association": association["associationId"]}


def reads(seeded) -> list[tuple[tuple, dict]]:
    cluster, principal = seeded["cluster"], quote(ROLE, safe="")
    return [
        (("GET", "/clusters"), {}),
        (("GET", "/clusters"), {"query": "maxResults=2"}),
        (("GET", "/clusters"), {"query": "maxResults=2&nextToken=fast-c"}),
        (("GET", f"/clusters/{cluster}"), {}),
        (("GET", "/clusters/fast-full"), {}),
        (("GET", "/clusters/no-such-cluster"), {}),
        (("GET", f"/clusters/{cluster}/addons/eks-pod-identity-agent"), {}),
        (("GET", f"/clusters/{cluster}/addons/no-such-addon"), {}),
        (("GET", f"/clusters/{cluster}/addons"), {}),
        (("GET", f"/clusters/{cluster}/pod-identity-associations"), {"query": "namespace=argocd&serviceAccount=argocd-server"}),
        (("GET", f"/clusters/{cluster}/pod-identity-associations/{seeded['association']}"), {}),
        (("GET", f"/clusters/{cluster}/pod-identity-associations/a-nope"), {}),
        (("GET", f"/clusters/{cluster}/access-entries"), {}),
        (("GET", f"/clusters/{cluster}/access-entries/{principal}"), {}),
        (("GET", f"/clusters/{cluster}/access-entries/{principal}/access-policies"), {}),
        (("GET", "/access-policies"), {}),
        (("GET", "/clusters/fast-full/node-groups"), {}),
        (("GET", f"/clusters/{cluster}/updates"), {}),  # ListUpdates: not in moto's URL map, Flask's 404
        (("GET", "/no/such/path"), {}),
        query("sts", Action="GetCallerIdentity", Version="2011-06-15"),
        query("iam", Action="GetRole", Version="2010-05-08", RoleName="speedups-role"),
        query("iam", Action="GetRole", Version="2010-05-08", RoleName="no-such-role"),
        query("iam", Action="ListOpenIDConnectProviders", Version="2010-05-08"),
    ]


def test_every_read_answers_as_moto_does(seeded):
    for args, kwargs in reads(seeded):
        three_ways(*args, **kwargs)


def test_the_fast_path_serves_the_reads(seeded, monkeypatch):
    """The comparison above compares the fast path, not Flask twice; what is not in moto's URL
    map is left to Flask."""
    served = []
    original = FastPath.answer

    def spy(self, environ, start_response):
        answered = original(self, environ, start_response)
        served.append((environ["PATH_INFO"], answered is not None))
        return answered

    monkeypatch.setattr(FastPath, "answer", spy)
    EKS_READS.forget()  # (else the cluster reads the test above made are answered again)
    for args, kwargs in reads(seeded):
        call(FAST, *args, **kwargs)
    left = [path for path, fast in served if not fast]
    assert left == [f"/clusters/{seeded['cluster']}/updates", "/no/such/path"], served
    assert len(served) == len(reads(seeded))


def describe(name: str) -> dict:
    return json.loads(three_ways("GET", f"/clusters/{name}")[2])["cluster"]


def test_answers_follow_every_change_of_a_cluster(seeded):
    """No memo answers stale: each change shows in the next DescribeCluster, the same three ways."""
    name = "fast-b"
    before = describe(name)
    status, _, _ = call(
        SLOW,
        "POST",
        "/_sandbox/eks/cluster",
        body=json.dumps(
            {"account": ACCOUNT, "region": REGION, "name": name, "status": "FAILED", "endpoint": "https://127.0.0.1:6443",
             "caData": "Q0E=", "oidcIssuer": "https://127.0.0.1:6443/oidc"}
        ).encode(),
    )
    assert status.startswith("200")
    after = describe(name)
    assert (after["status"], after["endpoint"], after["certificateAuthority"], after["identity"]) == (
        "FAILED", "https://127.0.0.1:6443", {"data": "Q0E="}, {"oidc": {"issuer": "https://127.0.0.1:6443/oidc"}}
    ), before
    call(SLOW, "POST", "/_sandbox/eks/cluster", body=json.dumps({"account": ACCOUNT, "region": REGION, "name": name, "status": "CREATING"}).encode())
    assert describe(name)["status"] == "CREATING"

    write("POST", f"/tags/{quote(before['arn'], safe='')}", {"tags": {"new": "tag", "team": "y"}})
    assert describe(name)["tags"] == {"team": "y", "new": "tag"}
    call(SLOW, "DELETE", f"/tags/{quote(before['arn'], safe='')}", query="tagKeys=new")
    assert describe(name)["tags"] == {"team": "y"}

    write("POST", "/clusters/fast-full/update-config", {"accessConfig": {"authenticationMode": "API"}})
    assert describe("fast-full")["accessConfig"]["authenticationMode"] == "API"
    names = json.loads(three_ways("GET", "/clusters")[2])["clusters"]
    call(SLOW, "POST", "/_sandbox/eks/clusters", body=json.dumps({"account": ACCOUNT, "region": REGION, "names": ["fast-new"]}).encode())
    assert json.loads(three_ways("GET", "/clusters")[2])["clusters"] == names + ["fast-new"]


def test_a_cluster_read_is_answered_again_until_something_changes(seeded, monkeypatch):
    """ListClusters and DescribeCluster are answered from moto's last answer (a request id of
    their own) until a request that may change EKS's state; a refusal is never remembered."""
    handled = []
    original = FastPath.answer
    monkeypatch.setattr(FastPath, "answer", lambda self, env, start: handled.append(env["PATH_INFO"]) or original(self, env, start))
    EKS_READS.forget()
    first, again = call(FAST, "GET", "/clusters"), call(FAST, "GET", "/clusters", query="")
    assert normalized(first) == normalized(again) == normalized(call(SLOW, "GET", "/clusters"))
    assert dict(first[1])["x-amzn-requestid"] != dict(again[1])["x-amzn-requestid"]
    call(FAST, "GET", "/clusters/fast-a"), call(FAST, "GET", "/clusters/fast-a")
    call(FAST, "GET", "/clusters", query="maxResults=1"), call(FAST, "GET", "/clusters", query="maxResults=1")
    assert handled == ["/clusters", "/clusters/fast-a", "/clusters"]  # each query answered once

    # STS and IAM change nothing EKS answers; their calls keep the answers.
    args, kwargs = query("sts", Action="GetCallerIdentity", Version="2011-06-15")
    call(FAST, *args, **kwargs)
    call(FAST, "GET", "/clusters")
    assert handled[-1] == "/"  # GetCallerIdentity went to moto, the list did not

    # Any EKS write (through another middleware too) and the sandbox's routes forget them all.
    arn = json.loads(call(FAST, "GET", "/clusters/fast-a")[2])["cluster"]["arn"]
    write("POST", f"/tags/{quote(arn, safe='')}", {"tags": {"cached": "no"}})
    assert json.loads(call(FAST, "GET", "/clusters/fast-a")[2])["cluster"]["tags"]["cached"] == "no"
    assert handled[-1] == "/clusters/fast-a"
    call(FAST, "GET", "/clusters")
    del handled[:]
    call(SLOW, "POST", "/_sandbox/eks/clusters", body=json.dumps({"account": ACCOUNT, "region": REGION, "names": ["fast-cached"]}).encode())
    assert "fast-cached" in json.loads(call(FAST, "GET", "/clusters")[2])["clusters"]
    assert handled == ["/clusters"]

    # Not found is asked again: the cluster may be created without a write through here.
    del handled[:]
    call(FAST, "GET", "/clusters/fast-later"), call(FAST, "GET", "/clusters/fast-later")
    assert handled == ["/clusters/fast-later"] * 2

    # Another account's read is its own; with moto's IAM enforcement on nothing is remembered.
    other = call(FAST, "GET", "/clusters")
    env = environ("GET", "/clusters")
    env["HTTP_X_MOTO_ACCOUNT_ID"] = "999988887777"
    assert EKS_READS.key({"service": "eks", "account": "999988887777"}, env) != EKS_READS.key({"service": "eks", "account": ACCOUNT}, environ("GET", "/clusters"))
    monkeypatch.setattr("moto.settings.INITIAL_NO_AUTH_ACTION_COUNT", 0)
    assert EKS_READS.key({"service": "eks", "account": ACCOUNT}, environ("GET", "/clusters")) is None
    assert other[0].startswith("200")


def test_the_fast_path_keeps_the_request_log_and_faults(seeded):
    FAST.requests.clear()
    call(FAST, "POST", "/_sandbox/faults", body=json.dumps({"action": "DescribeCluster", "status": 503, "match": "fast-c"}).encode())
    status, headers, body = call(FAST, "GET", "/clusters/fast-c")
    assert status.startswith("503") and dict(headers)["x-amzn-ErrorType"] == "ServiceUnavailableException"
    assert call(FAST, "GET", "/clusters/fast-c")[0].startswith("200")
    logged = [(e["action"], e["status"], e.get("faulted")) for e in FAST.requests]
    assert logged == [("DescribeCluster", 503, "ServiceUnavailableException"), ("DescribeCluster", 200, None)]
    assert FAST.requests[-1]["account"] == ACCOUNT and FAST.requests[-1]["user_agent"] == "test_speedups"


def test_the_request_logs_routing_is_remembered_as_moto_routes(seeded):
    from moto_eks_ext import middleware
    from moto_eks_ext.middleware import Request  # moto's, as the log routes it

    paths = [("GET", "/clusters", ""), ("GET", "/clusters/one", ""), ("GET", "/clusters/two", ""),
             ("GET", "/clusters/one/access-entries", "maxResults=5"), ("POST", "/clusters/one/access-entries", ""),
             ("GET", f"/clusters/one/access-entries/{quote(ROLE, safe='')}", ""), ("GET", "/clusters/one/addons/vpc-cni", "")]
    for method, path, query in paths:
        for _ in range(2):  # the second answer comes from the memo
            env = environ(method, path, query=query)
            operation, params = middleware.route("eks", env)
            expected_operation, expected_params = middleware.get_service_router("eks").match(Request(environ(method, path, query=query)))
            assert (operation.name, dict(params)) == (expected_operation.name, dict(expected_params))
    assert ("eks", "GET", "/clusters/two", "") in middleware._ROUTES


def test_uninstall_puts_moto_back():
    from moto.core import serialize
    from moto.core.responses import BaseResponse

    patched = serialize.BaseJSONSerializer.__dict__["_serialize_type_structure"]
    speedups.uninstall()
    try:
        assert serialize.BaseJSONSerializer.__dict__["_serialize_type_structure"] is not patched
        assert "moto_eks_ext" not in BaseResponse._get_action_from_method_and_request_uri.__module__
    finally:
        speedups.install()
    assert serialize.BaseJSONSerializer.__dict__["_serialize_type_structure"].__module__ == "moto_eks_ext.serializer"


# The event-loop server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto_eks_ext", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(SANDBOX)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("moto_eks_ext did not start: " + Path(log.name).read_text())
            time.sleep(0.05)
    yield port, Path(log.name), proc.pid
    proc.terminate()
    proc.wait(timeout=10)


def test_requests_share_one_connection(server):
    port, log, _ = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/_sandbox/faults", body=json.dumps({"action": "X", "delay": 0.01}))
    first = conn.getresponse()
    assert (first.status, json.loads(first.read())[0]["action"]) == (200, "X")
    sock = conn.sock
    assert first.getheader("Connection") is None and first.getheader("Content-Length")
    assert first.getheader("Date").endswith(" GMT")
    conn.request("GET", "/_sandbox/faults")  # the body above was read to its end
    assert json.loads(conn.getresponse().read())[0]["action"] == "X"
    conn.request("POST", "/_sandbox/faults/reset")
    assert conn.getresponse().read() == b"[]"
    assert conn.sock is sock
    headers = {
        "Authorization": AUTH.format(region=REGION, service="eks"),
        "x-moto-account-id": ACCOUNT,
    }
    conn.request("GET", "/clusters/none-here", headers=headers)
    missing = conn.getresponse()
    assert missing.status == 404 and json.loads(missing.read())["__type"] == "ResourceNotFoundException"
    conn.request("HEAD", "/_sandbox/faults")
    head = conn.getresponse()
    assert head.status == 404 and head.read() == b""  # no body after a HEAD: the connection stays usable
    conn.request("GET", "/_sandbox/faults", headers={"Connection": "close"})
    last = conn.getresponse()
    assert last.getheader("Connection") == "close" and last.read() == b"[]"
    assert conn.sock is None or conn.sock is sock
    assert re.search(r'"GET /_sandbox/faults HTTP/1.1" 200', log.read_text())


def test_a_chunked_body_is_read_to_its_end(server):
    port, _, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        body = json.dumps({"action": "Chunked", "delay": 0.01}).encode()
        chunks = b"".join(f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (body[:10], body[10:])) + b"0\r\n\r\n"
        sock.sendall(
            b"POST /_sandbox/faults HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
            + b"POST /_sandbox/faults/reset HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    answers = received.split(b"HTTP/1.1 ")[1:]
    assert len(answers) == 2 and all(a.startswith(b"200") for a in answers)
    assert b'"Chunked"' in answers[0] and answers[1].endswith(b"[]")


def burst(port: int, connections: int) -> float:
    """`connections` opened at once, one GET on each, every answer read: the slowest's seconds."""
    import selectors

    started = time.monotonic()
    selector = selectors.DefaultSelector()
    socks = []
    for _ in range(connections):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        selector.register(sock, selectors.EVENT_WRITE)
        socks.append(sock)
    received: dict[socket.socket, bytes] = {}
    while len(received) < connections or not all(r.endswith(b"[]") for r in received.values()):
        assert time.monotonic() - started < 20, f"{sum(r.endswith(b'[]') for r in received.values())} of {connections} answered"
        for key, events in selector.select(timeout=1):
            sock = key.fileobj
            if events & selectors.EVENT_WRITE:
                sock.sendall(b"GET /_sandbox/faults HTTP/1.1\r\nHost: x\r\n\r\n")
                selector.modify(sock, selectors.EVENT_READ)
                received[sock] = b""
            else:
                received[sock] += sock.recv(65536)
    took = time.monotonic() - started
    assert all(r.startswith(b"HTTP/1.1 200") for r in received.values())
    for sock in socks:
        selector.unregister(sock)
        sock.close()
    return took


def threads(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^Threads:\s+(\d+)", status, re.M)[1])


def test_a_burst_of_connections_is_served_on_the_loops_thread(server):
    port, _, pid = server
    # Past werkzeug's backlog of 128: none of them waits for the kernel's SYN retry (1 s).
    before = threads(pid)  # the loop's, and the held-request threads earlier tests started
    assert burst(port, 300) < 1.0
    assert threads(pid) == before  # none of these was held: no thread was started


def test_a_held_request_holds_only_its_own_connection(server):
    port, _, _ = server
    fault = {"action": "DescribeCluster", "delay": 0.8, "match": "held-here"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/_sandbox/faults", body=json.dumps(fault))
    assert conn.getresponse().read()
    held = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    started = time.monotonic()
    held.request("GET", "/clusters/held-here", headers={
        "Authorization": AUTH.format(region=REGION, service="eks"), "x-moto-account-id": ACCOUNT})
    time.sleep(0.1)  # moto has taken it
    # While it is held, another connection is answered at once.
    conn.request("GET", "/_sandbox/faults")
    assert json.loads(conn.getresponse().read()) == []  # the fault was taken by the held call
    assert time.monotonic() - started < 0.5
    answer = held.getresponse()
    assert answer.status == 404 and b"ResourceNotFoundException" in answer.read()
    assert time.monotonic() - started >= 0.8


def test_what_is_not_http_gets_a_400_and_the_connection_closed(server):
    port, _, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in received
