"""EKS authentication on the sandbox's target clusters: real `k8s-aws-v1.` tokens.

The sandbox kube-apiserver sends bearer tokens it does not know to a TokenReview webhook
that moto's extension serves (sandbox/moto_eks_ext/tokenreview.py). It checks the token's
presigned STS GetCallerIdentity URL with the secret moto issued, and maps the role through
the access entries of the EKS cluster named by the signed `x-k8s-aws-id` header.

Run after `scripts/sandbox up`, with the sandbox venv's python (see test_sandbox.py). Every
test makes its own roles and access entries (unique names) and removes them afterwards.
"""

import base64
import datetime
import json
import os
import ssl
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
import botocore.auth
import pytest
from conftest import UNSET
from botocore.config import Config


HUB = "123456789012"
REGION = "us-east-1"
CLUSTER_ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
K8S_AWS_ID = "x-k8s-aws-id"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{HUB}:root"}, "Action": "sts:AssumeRole"}
    ],
}


# ---------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def sandbox(sandbox_exports):
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(sandbox_exports)
    directory = Path(sandbox_exports["ARGOCD_EKS_SANDBOX_DIR"])
    return {
        "env": env,
        "moto": sandbox_exports["ARGOCD_EKS_SANDBOX_MOTO_URL"],
        "apiserver": sandbox_exports["ARGOCD_EKS_SANDBOX_APISERVER"],
        "ca": (directory / "pki" / "ca.crt").read_bytes(),
    }


@pytest.fixture(scope="session")
def aws(sandbox):
    """A boto3 client in the hub account with the sandbox's default keys."""
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")

    def client(service, region=REGION):
        return session.client(
            service,
            region_name=region,
            endpoint_url=sandbox["moto"],
            config=Config(retries={"max_attempts": 1}),
        )

    return client


@pytest.fixture
def make_role(aws):
    """make_role(entries={cluster: [policy ARN or (policy ARN, namespaces)]}, groups=[...]):
    a fresh IAM role (with a path) and its access entries; all removed after the test."""
    iam = aws("iam")
    made = []

    def make(entries, groups=None, region=REGION):
        name = f"eks-auth-{uuid.uuid4().hex[:10]}"
        arn = iam.create_role(
            RoleName=name, Path="/sandbox-tests/", AssumeRolePolicyDocument=json.dumps(TRUST)
        )["Role"]["Arn"]
        made.append(("role", name))
        eks = aws("eks", region)
        for cluster, policies in entries.items():
            eks.create_access_entry(clusterName=cluster, principalArn=arn, kubernetesGroups=groups or [])
            made.append(("entry", (region, cluster, arn)))
            for policy in policies:
                policy, namespaces = policy if isinstance(policy, tuple) else (policy, None)
                scope = {"type": "namespace", "namespaces": namespaces} if namespaces else {"type": "cluster"}
                eks.associate_access_policy(
                    clusterName=cluster, principalArn=arn, policyArn=policy, accessScope=scope
                )
        return arn

    yield make
    for kind, what in reversed(made):
        if kind == "entry":
            region, cluster, arn = what
            aws("eks", region).delete_access_entry(clusterName=cluster, principalArn=arn)
        else:
            iam.delete_role(RoleName=what)


def utcnow():
    """Now, as botocore's signer takes it (naive UTC)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def assume(aws, role_arn, session_name="sandbox-test"):
    return aws("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]


# ---------------------------------------------------------------------- tokens and requests


def eks_token(sandbox, creds, cluster, region=REGION, expires=60, sts_url=None):
    """A token as `aws eks get-token` makes it: botocore presigns STS GetCallerIdentity with
    the header x-k8s-aws-id (moved from the call's params to the request by two event
    hooks), and the URL is base64url-encoded without padding behind `k8s-aws-v1.`.
    Presigning sends nothing, so the URL names the regional STS host, as on AWS."""
    sts = boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
    ).client("sts", region_name=region, endpoint_url=sts_url or f"https://sts.{region}.amazonaws.com")

    def take_cluster_id(params, context, **_):
        if K8S_AWS_ID in params:
            context[K8S_AWS_ID] = params.pop(K8S_AWS_ID)

    def add_header(request, **_):
        if K8S_AWS_ID in request.context:
            request.headers[K8S_AWS_ID] = request.context[K8S_AWS_ID]

    sts.meta.events.register("provide-client-params.sts.GetCallerIdentity", take_cluster_id)
    sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_header)
    url = sts.generate_presigned_url(
        "get_caller_identity", Params={K8S_AWS_ID: cluster}, ExpiresIn=expires, HttpMethod="GET"
    )
    return "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def token_url(token):
    encoded = token.removeprefix("k8s-aws-v1.")
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()


def url_token(url):
    return "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def apiserver(sandbox, token, method, path, body=None):
    """(status, parsed body) of a request to the sandbox apiserver with a bearer token."""
    ctx = ssl.create_default_context(cadata=sandbox["ca"].decode())
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ctx)
    )
    request = urllib.request.Request(
        sandbox["apiserver"] + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def whoami(sandbox, token):
    status, body = apiserver(
        sandbox,
        token,
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
    )
    return status, (body["status"]["userInfo"] if status == 201 else body)


def webhook(sandbox, token, api_version="authentication.k8s.io/v1", audiences=None):
    """The webhook's TokenReview answer, asked directly (to see status.error)."""
    spec = {"token": token, **({"audiences": audiences} if audiences else {})}
    request = urllib.request.Request(
        sandbox["moto"] + "/_sandbox/tokenreview",
        data=json.dumps({"apiVersion": api_version, "kind": "TokenReview", "spec": spec}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        return json.loads(response.read())


def assert_rejected(sandbox, token, reason):
    """The apiserver answers 401, and the webhook says why."""
    status, body = whoami(sandbox, token)
    assert status == 401, body
    review = webhook(sandbox, token)["status"]
    assert review["authenticated"] is False
    assert reason in review["error"], review["error"]


def session_arn(role_arn, session):
    account, name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[1]
    return f"arn:aws:sts::{account}:assumed-role/{name}/{session}"


# ---------------------------------------------------------------------- accepted tokens


def test_cluster_admin_entry_maps_to_system_masters(sandbox, aws, make_role):
    role = make_role({"staging": [CLUSTER_ADMIN]}, groups=["sandbox-team"])
    creds = assume(aws, role, session_name="alice@example.com")
    token = eks_token(sandbox, creds, "staging")
    assert token.startswith("k8s-aws-v1.") and "=" not in token
    url = token_url(token)
    assert "Action=GetCallerIdentity" in url and "X-Amz-SignedHeaders=host%3Bx-k8s-aws-id" in url

    status, user = whoami(sandbox, token)
    assert status == 201, user
    # EKS's default username for a role, {{SessionName}} filled ('@' becomes '-').
    assert user["username"] == session_arn(role, "alice-example.com")
    assert user["groups"] == [
        "sandbox-team",
        f"eks-access-entry:{role}",
        "system:masters",
        "system:authenticated",
    ]
    assert user["uid"].startswith(f"aws-iam-authenticator:{HUB}:AROA")
    assert user["extra"]["arn"] == [session_arn(role, "alice@example.com")]
    assert user["extra"]["canonicalArn"] == [role]
    assert user["extra"]["accessKeyId"] == [creds["AccessKeyId"]]
    # system:masters really is cluster-admin on the target.
    status, body = apiserver(sandbox, token, "GET", "/api/v1/namespaces/kube-system/secrets")
    assert status == 200, body


def test_entry_without_cluster_admin_is_not_system_masters(sandbox, aws, make_role):
    # A view policy, and the admin policy only for one namespace: no system:masters.
    role = make_role({"staging": [VIEW, (CLUSTER_ADMIN, ["argocd"])]})
    token = eks_token(sandbox, assume(aws, role), "staging")
    status, user = whoami(sandbox, token)
    assert status == 201, user
    assert user["groups"] == [f"eks-access-entry:{role}", "system:authenticated"]
    # Authenticated, but the sandbox has no RBAC for access policies: forbidden.
    status, body = apiserver(sandbox, token, "GET", "/api/v1/namespaces")
    assert status == 403, body


def test_custom_username_template(sandbox, aws, make_role):
    role = make_role({})
    aws("eks").create_access_entry(
        clusterName="staging", principalArn=role, username="deployer:{{AccountID}}:{{SessionName}}"
    )
    try:
        status, user = whoami(sandbox, eks_token(sandbox, assume(aws, role, "run-7"), "staging"))
        assert status == 201, user
        assert user["username"] == f"deployer:{HUB}:run-7"
        assert user["groups"] == [f"eks-access-entry:{role}", "system:authenticated"]
    finally:
        aws("eks").delete_access_entry(clusterName="staging", principalArn=role)


def test_aws_cli_get_token_through_kubectl_exec(sandbox, aws, make_role, tmp_path):
    """The real producer: kubectl runs `aws eks get-token --role-arn` as Argo CD's and EKS's
    kubeconfigs do, against the endpoint and CA that DescribeCluster returns."""
    role = make_role({"staging": [CLUSTER_ADMIN]})
    cluster = aws("eks").describe_cluster(name="staging")["cluster"]
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster["arn"],
                "cluster": {
                    "server": cluster["endpoint"],
                    "certificate-authority-data": cluster["certificateAuthority"]["data"],
                },
            }
        ],
        "users": [
            {
                "name": "eks",
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "aws",
                        "args": [
                            *("--region", REGION, "eks", "get-token"),
                            *("--cluster-name", "staging", "--role-arn", role),
                        ],
                        "interactiveMode": "Never",
                    }
                },
            }
        ],
        "contexts": [{"name": "staging", "context": {"cluster": cluster["arn"], "user": "eks"}}],
        "current-context": "staging",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(kubeconfig))
    proc = subprocess.run(
        ["kubectl", "--kubeconfig", str(path), "auth", "whoami", "-o", "json"],
        capture_output=True,
        text=True,
        env=sandbox["env"],
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    user = json.loads(proc.stdout)["status"]["userInfo"]
    assert user["username"] == session_arn(role, "EKSGetTokenAuth")
    assert "system:masters" in user["groups"]


def test_unsigned_payload_variant_is_accepted(sandbox, aws, make_role, monkeypatch):
    """botocore (so `aws eks get-token`) signs the presigned URL with the hash of the empty
    body; the SDKs' generic presigning uses UNSIGNED-PAYLOAD. Both must verify."""
    role = make_role({"staging": [CLUSTER_ADMIN]})
    creds = assume(aws, role)
    monkeypatch.setattr(
        botocore.auth.SigV4QueryAuth, "payload", lambda self, request: botocore.auth.UNSIGNED_PAYLOAD
    )
    token = eks_token(sandbox, creds, "staging")
    monkeypatch.undo()
    assert token != eks_token(sandbox, creds, "staging")
    status, user = whoami(sandbox, token)
    assert status == 201, user
    assert user["username"] == session_arn(role, "sandbox-test")


def test_token_signed_for_another_sts_region(sandbox, aws, make_role):
    # Argo CD may sign with the global endpoint's region or the pod's: the cluster name decides.
    role = make_role({"staging": [CLUSTER_ADMIN]})
    token = eks_token(sandbox, assume(aws, role), "staging", region="eu-west-1")
    assert "%2Feu-west-1%2Fsts%2F" in token_url(token)
    status, user = whoami(sandbox, token)
    assert status == 201, user


def test_token_within_clock_skew_is_accepted(sandbox, aws, make_role, monkeypatch):
    # X-Amz-Expires is 60 s, but STS (hence EKS) allows 15 minutes of skew.
    role = make_role({"staging": [CLUSTER_ADMIN]})
    creds = assume(aws, role)
    signed = utcnow() - datetime.timedelta(minutes=10)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *_, **__: signed)
    token = eks_token(sandbox, creds, "staging")
    monkeypatch.undo()
    status, user = whoami(sandbox, token)
    assert status == 201, user


def test_iam_user_access_key(sandbox, aws):
    iam, eks = aws("iam"), aws("eks")
    name = f"eks-auth-{uuid.uuid4().hex[:10]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    eks.create_access_entry(clusterName="staging", principalArn=arn, kubernetesGroups=["viewers"])
    try:
        status, user = whoami(sandbox, eks_token(sandbox, key, "staging"))
        assert status == 201, user
        assert user["username"] == arn
        assert user["groups"] == ["viewers", f"eks-access-entry:{arn}", "system:authenticated"]
    finally:
        eks.delete_access_entry(clusterName="staging", principalArn=arn)
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        iam.delete_user(UserName=name)


# ---------------------------------------------------------------------- rejected tokens


def test_role_without_access_entry_is_unauthorized(sandbox, aws, make_role):
    role = make_role({})
    token = eks_token(sandbox, assume(aws, role), "staging")
    assert_rejected(sandbox, token, "no access entry on EKS cluster staging")


def test_access_entry_on_another_cluster_only_is_unauthorized(sandbox, aws, make_role):
    # An entry on argocd-hub (served by the same apiserver) does not let a staging token in.
    role = make_role({"argocd-hub": [CLUSTER_ADMIN]})
    creds = assume(aws, role)
    assert_rejected(sandbox, eks_token(sandbox, creds, "staging"), "no access entry on EKS cluster staging")
    status, user = whoami(sandbox, eks_token(sandbox, creds, "argocd-hub"))
    assert status == 201 and "system:masters" in user["groups"]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda url: url[:-1] + ("0" if url[-1] != "0" else "1"), id="signature"),
        pytest.param(lambda url: url.replace("X-Amz-Expires=60", "X-Amz-Expires=900"), id="expires"),
        pytest.param(lambda url: url.replace("Version=2011-06-15", "Version=2011-06-16"), id="query"),
    ],
)
def test_tampered_token_is_unauthorized(sandbox, aws, make_role, tamper):
    role = make_role({"staging": [CLUSTER_ADMIN]})
    url = token_url(eks_token(sandbox, assume(aws, role), "staging"))
    tampered = tamper(url)
    assert tampered != url
    assert_rejected(sandbox, url_token(tampered), "signature does not verify")


def test_expired_token_is_unauthorized(sandbox, aws, make_role, monkeypatch):
    role = make_role({"staging": [CLUSTER_ADMIN]})
    creds = assume(aws, role)
    signed = utcnow() - datetime.timedelta(minutes=17)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *_, **__: signed)
    token = eks_token(sandbox, creds, "staging")
    monkeypatch.undo()
    assert_rejected(sandbox, token, "the token expired")


def test_token_for_a_cluster_elsewhere_is_unauthorized(sandbox, aws, make_role):
    # prod-eu's endpoint is not the sandbox apiserver; the role has an entry there too.
    role = make_role({"staging": [CLUSTER_ADMIN]})
    make_entry = aws("eks", "eu-west-1")
    make_entry.create_access_entry(clusterName="prod-eu", principalArn=role)
    try:
        token = eks_token(sandbox, assume(aws, role), "prod-eu", region="eu-west-1")
        assert_rejected(
            sandbox, token, "the token is for EKS cluster prod-eu, which this apiserver does not serve"
        )
    finally:
        make_entry.delete_access_entry(clusterName="prod-eu", principalArn=role)


def test_token_for_an_unknown_cluster_is_unauthorized(sandbox, aws, make_role):
    role = make_role({"staging": [CLUSTER_ADMIN]})
    token = eks_token(sandbox, assume(aws, role), "no-such-cluster")
    assert_rejected(sandbox, token, "signature does not verify for any EKS cluster this apiserver serves")


def test_session_token_of_another_session_is_unauthorized(sandbox, aws, make_role):
    role = make_role({"staging": [CLUSTER_ADMIN]})
    mine, other = assume(aws, role), assume(aws, role, "other")
    token = eks_token(sandbox, {**mine, "SessionToken": other["SessionToken"]}, "staging")
    assert_rejected(sandbox, token, "the security token does not belong to access key")


def test_unknown_access_key_is_unauthorized(sandbox):
    creds = {"AccessKeyId": "ASIAEXAMPLEUNKNOWN00", "SecretAccessKey": "x" * 40, "SessionToken": "t"}
    assert_rejected(sandbox, eks_token(sandbox, creds, "staging"), "was not issued by this moto")


@pytest.mark.parametrize(
    "token, reason",
    [
        ("not-an-eks-token", "no k8s-aws-v1. prefix"),
        ("k8s-aws-v1.!!!", "not base64url"),
        (url_token("https://sts.amazonaws.com/?Action=GetCallerIdentity"), "has no X-Amz-Algorithm"),
    ],
)
def test_malformed_token_is_unauthorized(sandbox, token, reason):
    assert_rejected(sandbox, token, reason)


# ---------------------------------------------------------------------- the webhook itself


def test_webhook_answers_in_the_request_version_and_echoes_audiences(sandbox, aws, make_role):
    role = make_role({"staging": [CLUSTER_ADMIN]})
    token = eks_token(sandbox, assume(aws, role), "staging")
    review = webhook(sandbox, token, audiences=["https://kubernetes.default.svc"])
    assert review["apiVersion"] == "authentication.k8s.io/v1" and review["kind"] == "TokenReview"
    assert review["status"]["authenticated"] is True
    assert review["status"]["audiences"] == ["https://kubernetes.default.svc"]
    assert review["status"]["user"]["username"] == session_arn(role, "sandbox-test")
    beta = webhook(sandbox, "k8s-aws-v1.", api_version="authentication.k8s.io/v1beta1")
    assert beta["apiVersion"] == "authentication.k8s.io/v1beta1"
    assert beta["status"]["authenticated"] is False and beta["status"]["error"]


def test_static_tokens_still_work(sandbox):
    # The token file comes before the webhook: the admin token never reaches moto.
    admin = Path(sandbox["env"]["ARGOCD_EKS_SANDBOX_ADMIN_TOKEN_FILE"]).read_text().strip()
    status, user = whoami(sandbox, admin)
    assert status == 201 and user["username"] == "sandbox-admin"


# ---------------------------------------------------------------------- STS hosts per partition


def test_token_for_the_global_sts_host_is_accepted(sandbox, aws, make_role):
    # argocd-k8s-auth (aws-sdk-go v1) signs for the global endpoint in the commercial partition.
    role = make_role({"staging": [CLUSTER_ADMIN]})
    token = eks_token(sandbox, assume(aws, role), "staging", sts_url="https://sts.amazonaws.com")
    status, user = whoami(sandbox, token)
    assert status == 201, user


@pytest.mark.parametrize(
    "sts_url",
    [
        "https://sts.cn-north-1.amazonaws.com.cn",  # another partition's host
        "https://sts.us-east-1.amazonaws.com.evil.example",
        "http://127.0.0.1:1",  # a loopback host that is not this sandbox's STS
    ],
)
def test_token_naming_a_host_that_is_not_the_partitions_sts_is_refused(sandbox, aws, make_role, sts_url):
    role = make_role({"staging": [CLUSTER_ADMIN]})
    token = eks_token(sandbox, assume(aws, role), "staging", sts_url=sts_url)
    assert_rejected(sandbox, token, "unexpected hostname")


@pytest.mark.parametrize(
    "cluster, region, partition, good, bad",
    [
        ("china-prod", "cn-north-1", "aws-cn", "sts.cn-north-1.amazonaws.com.cn", "sts.cn-north-1.amazonaws.com"),
        ("gov-prod", "us-gov-west-1", "aws-us-gov", "sts.us-gov-west-1.amazonaws.com", "sts.amazonaws.com"),
    ],
)
def test_tokens_in_other_partitions_name_that_partitions_sts(sandbox, aws, cluster, region, partition, good, bad):
    """A role, access entry and session in the cluster's partition; the token must name the
    partition's regional STS host, as aws-iam-authenticator requires."""
    name = f"eks-auth-{uuid.uuid4().hex[:10]}"
    iam, eks, sts = aws("iam", region), aws("eks", region), aws("sts", region)
    trust = {**TRUST, "Statement": [{**TRUST["Statement"][0], "Principal": {"AWS": f"arn:{partition}:iam::{HUB}:root"}}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    assert arn.startswith(f"arn:{partition}:iam::")
    try:
        eks.create_access_entry(clusterName=cluster, principalArn=arn)
        eks.associate_access_policy(
            clusterName=cluster,
            principalArn=arn,
            policyArn=f"arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
            accessScope={"type": "cluster"},
        )
        creds = sts.assume_role(RoleArn=arn, RoleSessionName="sandbox-test")["Credentials"]
        token = eks_token(sandbox, creds, cluster, region=region, sts_url=f"https://{good}")
        status, user = whoami(sandbox, token)
        assert status == 201, user
        assert user["username"] == f"arn:{partition}:sts::{HUB}:assumed-role/{name}/sandbox-test"
        assert "system:masters" in user["groups"]
        wrong = eks_token(sandbox, creds, cluster, region=region, sts_url=f"https://{bad}")
        assert_rejected(sandbox, wrong, "unexpected hostname")
    finally:
        eks.delete_access_entry(clusterName=cluster, principalArn=arn)
        iam.delete_role(RoleName=name)
