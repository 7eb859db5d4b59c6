"""moto's CPU per request, for the reads discovery and `add` make: a load client.

    python sandbox/moto_load.py [--requests N] [--concurrency 1 20] [--action NAME ...]
    python sandbox/moto_load.py --url http://127.0.0.1:PORT --pid PID ...

Without --url it starts its own moto_eks_ext (this interpreter, a free loopback port) and
stops it at the end; --url uses a running one (give --pid for its CPU). It seeds one account
and region (clusters, an add-on, a pod identity association, an access entry with a policy,
an IAM role and OIDC provider), then sends each action N times over keep-alive connections
(one, then 20 at once; "DescribeCluster (each new)" a cluster not described before each
time, 3000 seeded), and prints moto's CPU (user + system, from /proc) per request and
the requests per second. Signatures are not checked by moto: the Authorization header only
names the access key, region and service, and x-moto-account-id the account.
"""

import argparse
import http.client
import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

SANDBOX = Path(__file__).resolve().parent
ACCOUNT = "123456789012"
REGION = "us-east-1"
KEY = "AKIAIOSFODNN7EXAMPLE"
ROLE_NAME = "moto-load-role"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
CLUSTERS = [f"load-{i:03d}" for i in range(50)]
# "DescribeCluster (each new)": a cluster not described before in the run, as discovery's are
# (moto's routing sees a path it has not seen).
FRESH = [f"fresh-{i:04d}" for i in range(3000)]
_fresh = itertools.count()
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}],
    }
)


def headers(service: str, region: str = REGION) -> dict[str, str]:
    return {
        "Authorization": f"AWS4-HMAC-SHA256 Credential={KEY}/20261202/{region}/{service}/aws4_request, "
        "SignedHeaders=host, Signature=0",
        "x-moto-account-id": ACCOUNT,
        "User-Agent": "moto-load",
    }


def query(service: str, params: dict[str, str]) -> tuple[str, str, bytes, dict[str, str]]:
    body = urllib.parse.urlencode(params).encode()
    return "POST", "/", body, {**headers(service), "Content-Type": "application/x-www-form-urlencoded"}


def rest(method: str, path: str, body: object = None) -> tuple[str, str, bytes, dict[str, str]]:
    data = b"" if body is None else json.dumps(body).encode()
    extra = {"Content-Type": "application/json"} if body is not None else {}
    return method, path, data, {**headers("eks"), **extra}


ASSOCIATION: dict[str, str] = {}  # filled by seed(): the association id


def actions() -> dict[str, tuple[str, str, bytes, dict[str, str]]]:
    """Each measured action's request (method, path, body, headers)."""
    principal = urllib.parse.quote(ROLE, safe="")
    return {
        "ListClusters": rest("GET", "/clusters?maxResults=100"),
        "DescribeCluster": rest("GET", f"/clusters/{CLUSTERS[0]}"),
        "DescribeCluster (each new)": lambda: rest("GET", f"/clusters/{FRESH[next(_fresh) % len(FRESH)]}"),
        "DescribeAddon": rest("GET", f"/clusters/{CLUSTERS[0]}/addons/eks-pod-identity-agent"),
        "ListPodIdentityAssociations": rest(
            "GET", f"/clusters/{CLUSTERS[0]}/pod-identity-associations?namespace=argocd&serviceAccount=argocd-server"
        ),
        "DescribePodIdentityAssociation": rest(
            "GET", f"/clusters/{CLUSTERS[0]}/pod-identity-associations/{ASSOCIATION.get('id', 'a-x')}"
        ),
        "DescribeAccessEntry": rest("GET", f"/clusters/{CLUSTERS[0]}/access-entries/{principal}"),
        "ListAssociatedAccessPolicies": rest("GET", f"/clusters/{CLUSTERS[0]}/access-entries/{principal}/access-policies"),
        "GetCallerIdentity": query("sts", {"Action": "GetCallerIdentity", "Version": "2011-06-15"}),
        "AssumeRole": query(
            "sts", {"Action": "AssumeRole", "Version": "2011-06-15", "RoleArn": ROLE, "RoleSessionName": "moto-load"}
        ),
        "GetRole": query("iam", {"Action": "GetRole", "Version": "2010-05-08", "RoleName": ROLE_NAME}),
        "ListOpenIDConnectProviders": query("iam", {"Action": "ListOpenIDConnectProviders", "Version": "2010-05-08"}),
        # moto's HTTP server and our middleware alone: the floor of any request.
        "sandbox-route": ("GET", "/_sandbox/faults", b"", {"User-Agent": "moto-load"}),
    }


def send(conn: http.client.HTTPConnection, request: Any) -> tuple[int, bytes]:
    """Sends a request (method, path, body, headers), or the one a function makes each time."""
    method, path, body, hdrs = request() if callable(request) else request
    conn.request(method, path, body=body or None, headers=hdrs)
    response = conn.getresponse()
    return response.status, response.read()


def seed(host: str, port: int) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=30)

    def must(request: tuple[str, str, bytes, dict[str, str]], ok: tuple[int, ...] = (200,)) -> bytes:
        status, body = send(conn, request)
        if status not in ok:
            sys.exit(f"moto_load: seeding {request[0]} {request[1]} answered {status}: {body[:300]!r}")
        return body

    must(("POST", "/_sandbox/eks/clusters", json.dumps({"account": ACCOUNT, "region": REGION, "names": CLUSTERS + FRESH}).encode(), {}))
    must(query("iam", {"Action": "CreateRole", "Version": "2010-05-08", "RoleName": ROLE_NAME, "AssumeRolePolicyDocument": TRUST}), (200, 409))
    must(
        query(
            "iam",
            {
                "Action": "CreateOpenIDConnectProvider",
                "Version": "2010-05-08",
                "Url": "https://oidc.eks.us-east-1.amazonaws.com/id/MOTOLOAD",
                "ClientIDList.member.1": "sts.amazonaws.com",
                "ThumbprintList.member.1": "9e99a48a9960b14926bb7f3b02e22da2b0ab7280",
            },
        ),
        (200, 409),
    )
    cluster = CLUSTERS[0]
    must(rest("POST", f"/clusters/{cluster}/addons", {"addonName": "eks-pod-identity-agent"}), (200, 409))
    body = must(
        rest(
            "POST",
            f"/clusters/{cluster}/pod-identity-associations",
            {"namespace": "argocd", "serviceAccount": "argocd-server", "roleArn": ROLE},
        ),
        (200, 409),
    )
    association = json.loads(body).get("association")
    if association:
        ASSOCIATION["id"] = association["associationId"]
    else:
        listed = json.loads(must(rest("GET", f"/clusters/{cluster}/pod-identity-associations")))
        ASSOCIATION["id"] = listed["associations"][0]["associationId"]
    must(rest("POST", f"/clusters/{cluster}/access-entries", {"principalArn": ROLE}), (200, 409))
    principal = urllib.parse.quote(ROLE, safe="")
    must(
        rest(
            "POST",
            f"/clusters/{cluster}/access-entries/{principal}/access-policies",
            {
                "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                "accessScope": {"type": "cluster"},
            },
        )
    )
    conn.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (and its reaped children: none here)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(host: str, port: int, request: tuple, total: int, concurrency: int) -> tuple[float, list[int]]:
    """Sends `total` requests over `concurrency` keep-alive connections; (seconds, statuses)."""
    statuses: list[int] = []
    lock = threading.Lock()
    per = [total // concurrency + (1 if i < total % concurrency else 0) for i in range(concurrency)]
    conns = [http.client.HTTPConnection(host, port, timeout=60) for _ in range(concurrency)]
    for conn in conns:
        send(conn, request)  # connected and warm before the clock starts
    barrier = threading.Barrier(concurrency + 1)

    def worker(conn: http.client.HTTPConnection, n: int) -> None:
        barrier.wait()
        mine = [send(conn, request)[0] for _ in range(n)]
        with lock:
            statuses.extend(mine)

    threads = [threading.Thread(target=worker, args=(c, n)) for c, n in zip(conns, per)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    took = time.perf_counter() - start
    for conn in conns:
        conn.close()
    return took, statuses


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn() -> tuple[subprocess.Popen, str, int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto_eks_ext", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(SANDBOX)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            send(conn, ("GET", "/_sandbox/faults", b"", {}))
            conn.close()
            return proc, "127.0.0.1", port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                sys.exit("moto_load: moto_eks_ext did not start")
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running moto_eks_ext (default: start one)")
    parser.add_argument("--pid", type=int, help="its process id, for its CPU time")
    parser.add_argument("--requests", type=int, default=400, help="requests per action and run (default 400)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--rounds", type=int, default=3, help="runs of each; the least CPU is shown (default 3)")
    parser.add_argument("--action", nargs="+", help="only these actions")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    proc = None
    if args.url:
        parts = urllib.parse.urlsplit(args.url)
        host, port, pid = parts.hostname or "127.0.0.1", parts.port or 80, args.pid
    else:
        proc, host, port = spawn()
        pid = proc.pid
    try:
        seed(host, port)
        chosen = actions()
        if args.action:
            unknown = set(args.action) - set(chosen)
            if unknown:
                sys.exit(f"moto_load: no action {', '.join(sorted(unknown))}; known: {', '.join(chosen)}")
            chosen = {name: chosen[name] for name in args.action}
        figures = []
        for name, request in chosen.items():
            row = {"action": name}
            for concurrency in args.concurrency:
                cpus, rates = [], []
                for _ in range(args.rounds):  # the least: the machine's other load only adds
                    before = cpu_seconds(pid) if pid else None
                    took, statuses = run(host, port, request, args.requests, concurrency)
                    bad = [s for s in statuses if s != 200]
                    if bad:
                        sys.exit(f"moto_load: {name} answered {bad[0]} ({len(bad)} of {len(statuses)})")
                    if pid:
                        cpus.append(cpu_seconds(pid) - before)
                    rates.append(args.requests / took)
                row[f"cpu_ms_c{concurrency}"] = round(1000 * min(cpus) / args.requests, 3) if cpus else None
                row[f"rps_c{concurrency}"] = round(max(rates), 1)
            figures.append(row)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
    if args.json:
        print(json.dumps(figures, indent=1))
        return
    cols = [c for c in figures[0] if c != "action"]
    print(f"{'action':32}" + "".join(f"{c:>13}" for c in cols))
    for row in figures:
        print(f"{row['action']:32}" + "".join(f"{'-' if row[c] is None else row[c]:>13}" for c in cols))


if __name__ == "__main__":
    main()
