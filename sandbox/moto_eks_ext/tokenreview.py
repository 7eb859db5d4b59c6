"""A TokenReview webhook that makes the sandbox kube-apiserver accept EKS tokens.

A token is `k8s-aws-v1.` + base64url (no padding) of a presigned STS GetCallerIdentity URL,
signed with SigV4 over the headers `host` and `x-k8s-aws-id` (the cluster name), as
`aws eks get-token`, aws-iam-authenticator and `argocd-k8s-auth aws` make it. EKS hands the
URL to STS; here the signature is checked against the secret key moto issued for the
access key, and the identity is mapped through the access entries of the moto extension,
read straight from moto's in-memory state.
"""

import base64
import binascii
import datetime
import hashlib
import hmac
import os
import re
import traceback
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from moto.core.utils import utcnow
from moto.eks.models import Cluster, eks_backends
from moto.iam.models import iam_backends
from moto.sts.models import sts_backends

from . import fidelity
from .backend import access_policy_arn

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
# aws-iam-authenticator's limit; real tokens are about 1.5 KB with a session token.
MAX_TOKEN_BYTES = 4096
# STS accepts a presigned URL for up to 15 minutes past its expiry (clock skew); that is
# why `aws eks get-token` signs for 60 s yet calls the token valid for 14 minutes.
SKEW = datetime.timedelta(minutes=15)
ALGORITHM = "AWS4-HMAC-SHA256"
AMZ_DATE = "%Y%m%dT%H%M%SZ"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
SIGNABLE_HEADERS = {"host", CLUSTER_ID_HEADER}
# moto's credentials when a client sets none of its own (the sandbox's AWS_ACCESS_KEY_ID).
DEFAULT_KEY, DEFAULT_ACCOUNT = "testing", "123456789012"
CREDENTIAL = re.compile(r"^([A-Za-z0-9]+)/(\d{8})/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request$")
ASSUMED_ROLE = re.compile(r"^arn:([\w-]+):sts::(\d{12}):assumed-role/([^/]+)/(.+)$")


class Rejected(Exception):
    """The token does not authenticate; the message says why (TokenReview status.error)."""


def review(request: dict[str, Any], apiserver: str | None) -> dict[str, Any]:
    """The TokenReview response to a TokenReview request (authentication.k8s.io v1 or v1beta1).

    `apiserver` is the endpoint of the apiserver this webhook serves: only EKS clusters
    whose endpoint it is are targets (None: any cluster with a loopback endpoint).
    """
    spec = request.get("spec") or {}
    status: dict[str, Any] = {"authenticated": False}
    try:
        status["user"] = authenticate(spec.get("token") or "", apiserver)
        status["authenticated"] = True
        if spec.get("audiences"):
            status["audiences"] = list(spec["audiences"])
    except Rejected as error:
        status["error"] = str(error)
    except Exception as error:  # noqa: BLE001 - a bug here must not make the apiserver retry
        traceback.print_exc()
        status["error"] = f"the sandbox TokenReview webhook failed: {error!r}"
    return {
        "apiVersion": request.get("apiVersion") or "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "status": status,
    }


def authenticate(token: str, apiserver: str | None) -> dict[str, Any]:
    """The user (username, uid, groups, extra) a token stands for, or Rejected."""
    presigned = parse_token(token)
    credential = find_credential(presigned["access_key"])
    if credential["session_token"] != presigned["params"].get("X-Amz-Security-Token"):
        raise Rejected(
            f"the security token does not belong to access key {presigned['access_key']}"
            if credential["session_token"]
            else f"access key {presigned['access_key']} is long-term; the token must carry no security token"
        )
    now = utcnow()
    if credential["expires"] is not None and now > credential["expires"]:
        raise Rejected(f"the session of access key {presigned['access_key']} has expired")
    if now > presigned["date"] + presigned["expires"] + SKEW:
        raise Rejected(f"the token expired (signed at {presigned['date']:%Y-%m-%dT%H:%M:%SZ})")
    if presigned["date"] > now + SKEW:
        raise Rejected(f"the token is signed in the future ({presigned['date']:%Y-%m-%dT%H:%M:%SZ})")

    served = served_clusters(apiserver)
    cluster_name = verified_cluster_name(presigned, credential["secret"], served)
    clusters = sorted(
        (c for c in served if c.name == cluster_name),
        key=lambda c: (region_of(c) != presigned["region"], account_of(c) != credential["account"]),
    )
    check_sts_host(presigned["hosts"][0], clusters)
    return map_identity(credential, presigned["access_key"], cluster_name, clusters)


# ---------------------------------------------------------------- the token


def parse_token(token: str) -> dict[str, Any]:
    """The parts of a token's presigned URL that the checks need; Rejected if malformed."""
    if not token.startswith(TOKEN_PREFIX):
        raise Rejected(f"not an EKS token (no {TOKEN_PREFIX} prefix)")
    if len(token) > MAX_TOKEN_BYTES:
        raise Rejected(f"the token is longer than {MAX_TOKEN_BYTES} bytes")
    encoded = token[len(TOKEN_PREFIX) :]
    try:
        padded = encoded + "=" * (-len(encoded) % 4)
        url = base64.b64decode(padded, altchars=b"-_", validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Rejected("the token is not base64url of a URL") from None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        raise Rejected("the token's URL is not an http(s) URL with a host")
    if parts.path not in ("", "/"):
        raise Rejected(f"the token's URL has path {parts.path!r}, not /")
    params: dict[str, str] = {}
    for pair in parts.query.split("&") if parts.query else []:
        key, _, value = pair.partition("=")
        key, value = unquote(key), unquote(value)
        if key in params:
            raise Rejected(f"the token's URL repeats the query parameter {key}")
        params[key] = value
    for key in (
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    ):
        if not params.get(key):
            raise Rejected(f"the token's URL has no {key}")
    if params.get("Action") != "GetCallerIdentity":
        raise Rejected("the token's URL is not an STS GetCallerIdentity request")
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise Rejected(f"the token is not signed with {ALGORITHM}")
    credential = CREDENTIAL.match(params["X-Amz-Credential"])
    if not credential:
        raise Rejected("the token's X-Amz-Credential is malformed")
    access_key, day, region, service = credential.groups()
    if service != "sts":
        raise Rejected(f"the token is signed for service {service}, not sts")
    try:
        date = datetime.datetime.strptime(params["X-Amz-Date"], AMZ_DATE)
        expires = datetime.timedelta(seconds=int(params["X-Amz-Expires"]))
    except ValueError:
        raise Rejected("the token's X-Amz-Date or X-Amz-Expires is malformed") from None
    if not params["X-Amz-Date"].startswith(day):
        raise Rejected("the token's X-Amz-Date is not the day of its credential scope")
    if not 0 <= expires.total_seconds() <= 7 * 24 * 3600:
        raise Rejected("the token's X-Amz-Expires is out of range")
    signed_headers = params["X-Amz-SignedHeaders"].split(";")
    if CLUSTER_ID_HEADER not in signed_headers:
        raise Rejected(f"the token does not sign the {CLUSTER_ID_HEADER} header")
    unknown = [h for h in signed_headers if h not in SIGNABLE_HEADERS]
    if unknown:
        raise Rejected(f"the token signs headers it does not carry: {', '.join(unknown)}")
    # The Host header a client sends for this URL: as botocore and the Go SDKs, without a
    # default port; a signer that kept one is accepted too.
    hosts = [parts.netloc.lower()]
    if parts.port == {"http": 80, "https": 443}[parts.scheme]:
        hosts.insert(0, parts.hostname.lower())
    return {
        "params": params,
        "hosts": hosts,
        "path": parts.path or "/",
        "access_key": access_key,
        "scope": "/".join(params["X-Amz-Credential"].split("/")[1:]),
        "day": day,
        "region": region,
        "date": date,
        "expires": expires,
        "signed_headers": signed_headers,
    }


def signature(presigned: dict[str, Any], secret: str, cluster_name: str, payload_hash: str) -> str:
    """The SigV4 query signature of the presigned request, were it sent with
    `x-k8s-aws-id: cluster_name` (the signing steps of the SigV4 documentation)."""
    params = presigned["params"]
    canonical_query = "&".join(
        f"{quote(key, safe='-_.~')}={quote(value, safe='-_.~')}"
        for key, value in sorted(params.items())
        if key != "X-Amz-Signature"
    )
    headers = {"host": presigned["host"], CLUSTER_ID_HEADER: cluster_name}
    canonical_request = "\n".join(
        [
            "GET",
            quote(presigned["path"], safe="/~"),
            canonical_query,
            "".join(f"{name}:{headers[name]}\n" for name in presigned["signed_headers"]),
            ";".join(presigned["signed_headers"]),
            payload_hash,
        ]
    )
    string_to_sign = "\n".join(
        [
            ALGORITHM,
            params["X-Amz-Date"],
            presigned["scope"],
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = ("AWS4" + secret).encode()
    for part in (presigned["day"], presigned["region"], "sts", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def check_sts_host(host: str, clusters: list[Cluster]) -> None:
    """aws-iam-authenticator refuses a token whose URL names a host that is not an STS
    endpoint of the cluster's partition (`sts.cn-north-1.amazonaws.com` for a China cluster,
    any other loopback or proxy host): so does the sandbox, so a test cannot pass with one."""
    partitions = sorted({c.arn.split(":")[1] for c in clusters})
    allowed = set().union(*(fidelity.sts_hosts(p) for p in partitions))
    # This moto is the sandbox's STS: a client pointed at it (`aws eks get-token` with
    # AWS_ENDPOINT_URL) signs for its host, which stands in for the regional endpoint.
    if os.environ.get("MOTO_PORT"):
        allowed |= {f"127.0.0.1:{os.environ['MOTO_PORT']}", f"localhost:{os.environ['MOTO_PORT']}"}
    if host.removesuffix(":443") not in allowed:
        example = sorted(allowed)[0] if allowed else "none"
        raise Rejected(
            f"unexpected hostname {host!r} in the token's presigned URL: partition "
            f"{', '.join(partitions)} accepts STS hosts such as {example}"
        )


def verified_cluster_name(presigned: dict[str, Any], secret: str, served: list[Cluster]) -> str:
    """The x-k8s-aws-id the token was signed with, out of the clusters this apiserver serves.

    The header is signed but not in the URL, so each candidate name is tried. The payload
    hash is not in the URL either: it is that of the empty body (botocore, so `aws eks
    get-token`; aws-sigv4 given an empty body) or UNSIGNED-PAYLOAD (the SDKs' generic
    presigning), unless the URL names it in X-Amz-Content-Sha256.
    """
    params = presigned["params"]
    payload_hashes = [params.get("X-Amz-Content-Sha256")] if params.get("X-Amz-Content-Sha256") else []
    payload_hashes = payload_hashes or [EMPTY_SHA256, UNSIGNED_PAYLOAD]

    def signed_for(name: str) -> bool:
        return any(
            hmac.compare_digest(
                signature({**presigned, "host": host}, secret, name, payload_hash), params["X-Amz-Signature"]
            )
            for host in presigned["hosts"]
            for payload_hash in payload_hashes
        )

    for name in sorted({c.name for c in served}):
        if signed_for(name):
            return name
    # Say which cluster the token is for, when it is a cluster this apiserver does not serve.
    for name in sorted({c.name for c in all_clusters()} - {c.name for c in served}):
        if signed_for(name):
            raise Rejected(f"the token is for EKS cluster {name}, which this apiserver does not serve")
    raise Rejected(
        "the token's signature does not verify for any EKS cluster this apiserver serves "
        f"({', '.join(sorted({c.name for c in served})) or 'none'})"
    )


# ---------------------------------------------------------------- moto's state


def all_clusters() -> list[Cluster]:
    return [
        cluster
        for _, _, backend in list(eks_backends.iter_backends())
        for cluster in list(backend.clusters.values())
    ]


def region_of(cluster: Cluster) -> str:
    return cluster.arn.split(":")[3]


def account_of(cluster: Cluster) -> str:
    return cluster.arn.split(":")[4]


def served_clusters(apiserver: str | None) -> list[Cluster]:
    """The EKS clusters whose endpoint is this apiserver."""

    def serves(endpoint: str) -> bool:
        if apiserver:
            return endpoint.rstrip("/") == apiserver.rstrip("/")
        return urlsplit(endpoint).hostname in ("127.0.0.1", "localhost", "::1")

    return [c for c in all_clusters() if serves(c.endpoint or "")]


def find_credential(access_key: str) -> dict[str, Any]:
    """What moto knows of an access key: its secret, session token, and whose it is."""
    for account_id, account in list(iam_backends.items()):
        for partition, iam in list(account.items()):
            key = iam.access_keys.get(access_key)
            if key is None:
                continue
            if key.status != "Active":
                raise Rejected(f"access key {access_key} is inactive")
            if key.role_arn:
                return assumed_role_credential(access_key, key.secret_access_key)
            user = iam.get_user_from_access_key_id(access_key)
            if user is None:
                break
            return {
                "secret": key.secret_access_key,
                "session_token": None,
                "expires": None,
                "account": account_id,
                "arn": user.arn,
                "principal": [user.arn],
                "user_id": user.id,
                "session_name": None,
            }
    if access_key == DEFAULT_KEY:
        root = f"arn:aws:iam::{DEFAULT_ACCOUNT}:root"
        return {
            "secret": DEFAULT_KEY,
            "session_token": None,
            "expires": None,
            "account": DEFAULT_ACCOUNT,
            "arn": root,
            "principal": [root],
            "user_id": DEFAULT_ACCOUNT,
            "session_name": None,
        }
    raise Rejected(f"access key {access_key} was not issued by this moto")


def assumed_role_credential(access_key: str, secret: str) -> dict[str, Any]:
    """The session of temporary credentials from sts:AssumeRole(WithWebIdentity)."""
    for _, account in list(sts_backends.items()):
        for _, sts in list(account.items()):
            for session in list(sts.assumed_roles):
                if session.access_key_id != access_key:
                    continue
                arn = ASSUMED_ROLE.match(session.arn)
                partition, account_id, role_name, session_name = arn.groups()  # type: ignore[union-attr]
                # The principal an access entry names: the IAM role (moto's, with its path,
                # then the path-less form, which is what EKS itself derives from the session).
                principal = [f"arn:{partition}:iam::{account_id}:role/{role_name}"]
                try:
                    role = iam_backends[account_id][partition].get_role_by_arn(session.role_arn)
                    principal.insert(0, role.arn)
                except Exception:  # noqa: BLE001 - moto lets one assume a role that does not exist
                    if session.role_arn != principal[0]:
                        principal.insert(0, session.role_arn)
                return {
                    "secret": secret,
                    "session_token": session.session_token,
                    "expires": session.expiration,
                    "account": account_id,
                    "arn": session.arn,
                    "principal": list(dict.fromkeys(principal)),
                    "user_id": session.user_id,
                    "session_name": session_name,
                }
    raise Rejected(f"access key {access_key} belongs to no role session moto knows")


# ---------------------------------------------------------------- access entries


def map_identity(
    credential: dict[str, Any], access_key: str, cluster_name: str, clusters: list[Cluster]
) -> dict[str, Any]:
    """The Kubernetes user of the first access entry for the principal, as EKS maps it."""
    for cluster in clusters:
        if cluster.access_config["authenticationMode"] == "CONFIG_MAP":
            continue
        for principal in credential["principal"]:
            entry = cluster.access_entries.get(principal)
            if entry is not None:
                return user_of(credential, access_key, cluster, entry)
    modes = {c.access_config["authenticationMode"] for c in clusters}
    if modes == {"CONFIG_MAP"}:
        raise Rejected(
            f"EKS cluster {cluster_name} uses authentication mode CONFIG_MAP; "
            "the sandbox has no aws-auth ConfigMap mapping"
        )
    raise Rejected(
        f"no access entry on EKS cluster {cluster_name} for {credential['principal'][0]} "
        f"(caller {credential['arn']})"
    )


def user_of(
    credential: dict[str, Any], access_key: str, cluster: Cluster, entry: dict[str, Any]
) -> dict[str, Any]:
    session_name = credential["session_name"] or ""
    username = (
        entry["username"]
        .replace("{{SessionNameRaw}}", session_name)
        .replace("{{SessionName}}", session_name.replace("@", "-"))
        .replace("{{AccountID}}", credential["account"])
    )
    groups = list(entry["kubernetesGroups"]) + [f"eks-access-entry:{entry['principalArn']}"]
    admin = entry["policies"].get(access_policy_arn(cluster.arn.split(":")[1], "AmazonEKSClusterAdminPolicy"))
    if admin and admin["accessScope"]["type"] == "cluster":
        groups.append("system:masters")
    groups.append("system:authenticated")
    extra = {
        "arn": [credential["arn"]],
        "canonicalArn": [entry["principalArn"]],
        "accessKeyId": [access_key],
        "principalId": [credential["user_id"]],
    }
    if credential["session_name"]:
        extra["sessionName"] = [credential["session_name"]]
    return {
        "username": username,
        "uid": f"aws-iam-authenticator:{credential['account']}:{credential['user_id']}",
        "groups": list(dict.fromkeys(groups)),
        "extra": extra,
    }
