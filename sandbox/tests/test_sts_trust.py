"""The sandbox STS's trust checks and EKS Auth's AssumeRoleForPodIdentity (moto_eks_ext).

The extension's server runs on a free loopback port with a service account key made here;
tokens are JWTs signed with it as the sandbox kube-apiserver signs them.
"""

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SANDBOX = Path(__file__).resolve().parents[1]
HUB, OTHER = "123456789012", "210987654321"
ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
HOST_PATH = ISSUER.removeprefix("https://")
PROVIDER = f"arn:aws:iam::{HUB}:oidc-provider/{HOST_PATH}"
SA = "system:serviceaccount:argocd:argocd-application-controller"
EKS_AUTH_MODEL = botocore.session.get_session().get_service_model("eks-auth")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("sa") / "sa.pub"
    path.write_bytes(
        private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, path


@pytest.fixture(scope="module")
def server(key, tmp_path_factory):
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto_eks_ext", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(SANDBOX), "MOTO_EKS_EXT_SA_PUBLIC_KEY": str(key[1])},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/_sandbox/requests", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("moto_eks_ext did not start: " + Path(log.name).read_text())
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(key, sub=SA, aud="sts.amazonaws.com", iss=ISSUER, exp_in=3600, pod=None):
    namespace, name = sub.split(":")[2:4]
    claims = {
        "iss": iss,
        "sub": sub,
        "aud": [aud],
        "exp": int(time.time()) + exp_in,
        "iat": int(time.time()),
        "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": "u-1"}},
    }
    if pod:
        claims["kubernetes.io"]["pod"] = pod
    head = b64(json.dumps({"alg": "RS256", "kid": "k"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = key[0].sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{b64(sig)}"


@pytest.fixture
def aws(server):
    urllib.request.urlopen(urllib.request.Request(f"{server}/moto-api/reset", method="POST")).read()

    def client(service, account=HUB, creds=None, region="us-east-1"):
        creds = creds or {"AccessKeyId": "testing", "SecretAccessKey": "testing"}
        c = boto3.session.Session().client(
            service,
            region_name=region,
            endpoint_url=server,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds.get("SessionToken"),
            config=Config(retries={"max_attempts": 1}),
        )
        if account != HUB and creds.get("SessionToken") is None:
            c.meta.events.register("before-sign.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account))
        return c

    return client


def role(aws, name, statement, account=HUB):
    doc = {"Version": "2012-10-17", "Statement": [statement]}
    return aws("iam", account).create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(doc))["Role"]["Arn"]


def irsa_trust(sub=SA):
    return {
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{HOST_PATH}:sub": sub, f"{HOST_PATH}:aud": "sts.amazonaws.com"}},
    }


def pod_identity_trust(actions=("sts:AssumeRole", "sts:TagSession")):
    return {"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": list(actions)}


def web_identity(aws, role_arn, token):
    return aws("sts").assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="sandbox", WebIdentityToken=token)


@pytest.fixture
def provider(aws):
    aws("iam").create_open_id_connect_provider(Url=ISSUER, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"])


# ---------------------------------------------------------------------- IRSA


def test_web_identity_allowed_for_the_trusted_service_account(aws, key, provider):
    arn = role(aws, "irsa", irsa_trust())
    out = web_identity(aws, arn, jwt(key))
    assert out["AssumedRoleUser"]["Arn"].startswith(f"arn:aws:sts::{HUB}:assumed-role/irsa/")


@pytest.mark.parametrize(
    "case",
    ["other service account", "wrong audience", "bad signature", "expired", "no provider"],
)
def test_web_identity_refused(aws, key, provider, case):
    arn = role(aws, "irsa", irsa_trust())
    token = jwt(key)
    if case == "other service account":
        token = jwt(key, sub="system:serviceaccount:argocd:argocd-server")
    elif case == "wrong audience":
        token = jwt(key, aud="pods.eks.amazonaws.com")
    elif case == "bad signature":
        other = (rsa.generate_private_key(public_exponent=65537, key_size=2048), None)
        token = jwt(other)
    elif case == "expired":
        token = jwt(key, exp_in=-600)
    elif case == "no provider":
        token = jwt(key, iss="https://oidc.eks.us-east-1.amazonaws.com/id/FFFF")
    with pytest.raises(ClientError) as error:
        web_identity(aws, arn, token)
    code = error.value.response["Error"]["Code"]
    assert code == ("AccessDenied" if case == "other service account" else "InvalidIdentityToken"), error.value


# ---------------------------------------------------------------------- AssumeRole from a session


def test_chained_assume_role_needs_the_target_trust(aws, key, provider):
    hub_role = role(aws, "irsa", irsa_trust())
    creds = web_identity(aws, hub_role, jwt(key))["Credentials"]
    trusted = role(aws, "deployer", {"Effect": "Allow", "Principal": {"AWS": hub_role}, "Action": "sts:AssumeRole"}, OTHER)
    untrusted = role(aws, "stranger", {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "sts:AssumeRole"}, OTHER)
    out = aws("sts", creds=creds).assume_role(RoleArn=trusted, RoleSessionName="xx")
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{OTHER}:assumed-role/deployer/xx"
    with pytest.raises(ClientError) as error:
        aws("sts", creds=creds).assume_role(RoleArn=untrusted, RoleSessionName="xx")
    assert error.value.response["Error"]["Code"] == "AccessDenied"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


# ---------------------------------------------------------------------- EKS Auth


@pytest.fixture
def hub_cluster(aws, server):
    eks = aws("eks")
    eks.create_cluster(name="hub", roleArn=f"arn:aws:iam::{HUB}:role/eks", resourcesVpcConfig={"subnetIds": []})
    body = json.dumps({"account": HUB, "region": "us-east-1", "name": "hub", "oidcIssuer": ISSUER}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{server}/_sandbox/eks/cluster", data=body, method="POST")).read()
    return eks


POD = {"name": "argocd-application-controller-0", "uid": "pod-uid-1"}


def pod_token(key, **kw):
    return jwt(key, aud="pods.eks.amazonaws.com", pod=POD, **kw)


def test_pod_identity_gives_the_role_with_eks_session_tags(aws, key, hub_cluster):
    arn = role(aws, "mgmt", pod_identity_trust())
    hub_cluster.create_pod_identity_association(
        clusterName="hub", namespace="argocd", serviceAccount="argocd-application-controller", roleArn=arn
    )
    out = aws("eks-auth").assume_role_for_pod_identity(clusterName="hub", token=pod_token(key))
    assert out["subject"] == {"namespace": "argocd", "serviceAccount": "argocd-application-controller"}
    assert out["audience"] == "pods.eks.amazonaws.com"
    assert out["assumedRoleUser"]["arn"].startswith(f"arn:aws:sts::{HUB}:assumed-role/mgmt/eks-hub-argocd-application-c")
    creds = out["credentials"]
    who = aws("sts", creds={"AccessKeyId": creds["accessKeyId"], "SecretAccessKey": creds["secretAccessKey"], "SessionToken": creds["sessionToken"]}).get_caller_identity()
    assert who["Arn"] == out["assumedRoleUser"]["arn"]
    # The session tags are transitive: a chained role must allow sts:TagSession.
    session = {"AccessKeyId": creds["accessKeyId"], "SecretAccessKey": creds["secretAccessKey"], "SessionToken": creds["sessionToken"]}
    no_tags = role(aws, "no-tags", {"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"}, OTHER)
    with_tags = role(aws, "tags", {"Effect": "Allow", "Principal": {"AWS": arn}, "Action": ["sts:AssumeRole", "sts:TagSession"]}, OTHER)
    with pytest.raises(ClientError) as error:
        aws("sts", creds=session).assume_role(RoleArn=no_tags, RoleSessionName="xx")
    assert "sts:TagSession" in error.value.response["Error"]["Message"]
    aws("sts", creds=session).assume_role(RoleArn=with_tags, RoleSessionName="xx")


def test_pod_identity_response_matches_the_model(aws, key, hub_cluster, server):
    arn = role(aws, "mgmt", pod_identity_trust())
    hub_cluster.create_pod_identity_association(
        clusterName="hub", namespace="argocd", serviceAccount="argocd-application-controller", roleArn=arn
    )
    client = aws("eks-auth")
    raw = {}
    client.meta.events.register("after-call.*.*", lambda http_response, **_: raw.setdefault("body", http_response.content))
    client.assume_role_for_pod_identity(clusterName="hub", token=pod_token(key))
    body = json.loads(raw["body"])
    shape = EKS_AUTH_MODEL.operation_model("AssumeRoleForPodIdentity").output_shape
    assert set(body) == set(shape.required_members)
    assert isinstance(body["credentials"]["expiration"], int)


def test_pod_identity_chains_to_the_target_role(aws, key, hub_cluster):
    arn = role(aws, "mgmt", pod_identity_trust())
    target = role(aws, "deployer", {"Effect": "Allow", "Principal": {"AWS": arn}, "Action": ["sts:AssumeRole", "sts:TagSession"]}, OTHER)
    hub_cluster.create_pod_identity_association(
        clusterName="hub", namespace="argocd", serviceAccount="argocd-application-controller", roleArn=arn, targetRoleArn=target
    )
    out = aws("eks-auth").assume_role_for_pod_identity(clusterName="hub", token=pod_token(key))
    assert out["assumedRoleUser"]["arn"].startswith(f"arn:aws:sts::{OTHER}:assumed-role/deployer/")


@pytest.mark.parametrize("case", ["no association", "trust lacks TagSession", "wrong audience", "other issuer"])
def test_pod_identity_refused(aws, key, hub_cluster, case):
    actions = ("sts:AssumeRole",) if case == "trust lacks TagSession" else ("sts:AssumeRole", "sts:TagSession")
    arn = role(aws, "mgmt", pod_identity_trust(actions))
    if case != "no association":
        hub_cluster.create_pod_identity_association(
            clusterName="hub", namespace="argocd", serviceAccount="argocd-application-controller", roleArn=arn
        )
    token = pod_token(key)
    if case == "wrong audience":
        token = jwt(key, aud="sts.amazonaws.com", pod=POD)
    elif case == "other issuer":
        token = pod_token(key, iss="https://oidc.eks.us-east-1.amazonaws.com/id/FFFF")
    with pytest.raises(ClientError) as error:
        aws("eks-auth").assume_role_for_pod_identity(clusterName="hub", token=token)
    want = {"no association": "AccessDeniedException", "trust lacks TagSession": "AccessDeniedException"}
    assert error.value.response["Error"]["Code"] == want.get(case, "InvalidTokenException")
