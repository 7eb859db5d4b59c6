"""Checks that `scripts/sandbox up` gives the seeded state that tests and the demo rely on.

Run with the sandbox venv's python after `scripts/sandbox up`:
    "$(scripts/python-env)/bin/python" -m pytest sandbox/tests
The environment comes from `scripts/sandbox env`. Nothing is skipped: when the sandbox is
not up, every test fails and says to run `scripts/sandbox up`.
"""

import base64
import json
import os
import re
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from conftest import UNSET
from botocore.config import Config


HUB = "123456789012"
OTHER = "210987654321"
HUB_CONTEXT = f"arn:aws:eks:us-east-1:{HUB}:cluster/argocd-hub"
ARGOCD_SAS = [
    "argocd-application-controller",
    "argocd-server",
    "argocd-applicationset-controller",
]
CLUSTERS = {
    # (account, region): {name: authenticationMode}
    (HUB, "us-east-1"): {"argocd-hub": "API_AND_CONFIG_MAP", "staging": "API"},
    (HUB, "eu-west-1"): {"prod-eu": "API_AND_CONFIG_MAP", "legacy": "CONFIG_MAP"},
    (OTHER, "us-east-1"): {"team-b-dev": "API"},
    (OTHER, "eu-west-1"): {"team-b-prod": "API"},
    (HUB, "cn-north-1"): {"china-prod": "API"},
    (HUB, "us-gov-west-1"): {"gov-prod": "API"},
}
ENV_NAMES = {
    "KUBECONFIG",
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "PATH",
    "ARGOCD_EKS_SANDBOX_DIR",
    "ARGOCD_EKS_SANDBOX_PORT_BASE",
    "ARGOCD_EKS_SANDBOX_MOTO_URL",
    "ARGOCD_EKS_SANDBOX_APISERVER",
    "ARGOCD_EKS_SANDBOX_ADMIN_TOKEN_FILE",
    "ARGOCD_EKS_SANDBOX_HUB_ACCOUNT",
    "ARGOCD_EKS_SANDBOX_OTHER_ACCOUNT",
    "ARGOCD_EKS_SANDBOX_RESTRICTED_CONTEXT",
}


# ---------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def sandbox(sandbox_exports):
    # As `eval "$(scripts/sandbox env)"` would, for kubectl and for boto3 in this process.
    for name in UNSET:
        os.environ.pop(name, None)
    os.environ.update(sandbox_exports)
    env = dict(os.environ)
    return {
        "exported": sandbox_exports,
        "env": env,
        "dir": Path(sandbox_exports["ARGOCD_EKS_SANDBOX_DIR"]),
    }


@pytest.fixture(scope="session")
def ca_pem(sandbox):
    return (sandbox["dir"] / "pki" / "ca.crt").read_bytes()


def kubectl(sandbox, *args, context=None, check=True):
    cmd = ["kubectl"]
    if context:
        cmd += ["--context", context]
    proc = subprocess.run(
        cmd + list(args), capture_output=True, text=True, env=sandbox["env"], timeout=60
    )
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd + list(args))} failed:\n{proc.stderr}", pytrace=False)
    return proc


def can_i(sandbox, verb, resource, context):
    proc = kubectl(
        sandbox, "auth", "can-i", verb, resource, "-n", "argocd", context=context, check=False
    )
    answer = proc.stdout.strip()
    assert answer in ("yes", "no"), proc.stderr
    return answer == "yes"


@pytest.fixture(scope="session")
def aws(sandbox):
    url = sandbox["exported"]["ARGOCD_EKS_SANDBOX_MOTO_URL"]
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")

    def client(service, account, region="us-east-1"):
        c = session.client(
            service,
            region_name=region,
            endpoint_url=url,
            config=Config(retries={"max_attempts": 1}),
        )
        c.meta.events.register(
            "before-sign.*.*",
            lambda request, **_: request.headers.__setitem__("x-moto-account-id", account),
        )
        return c

    return client


def https_get(url, ca_pem, token):
    ctx = ssl.create_default_context(cadata=ca_pem.decode())
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ctx)
    )
    with opener.open(req, timeout=10) as resp:
        return json.loads(resp.read())


def admin_token(sandbox):
    return Path(sandbox["exported"]["ARGOCD_EKS_SANDBOX_ADMIN_TOKEN_FILE"]).read_text().strip()


# ---------------------------------------------------------------------- env


def test_env_names_and_values(sandbox):
    e = sandbox["exported"]
    # The git server's URL only when `up --argocd` started Argo CD.
    assert set(e) - {"ARGOCD_EKS_SANDBOX_GIT_URL"} == ENV_NAMES
    if "ARGOCD_EKS_SANDBOX_GIT_URL" in e:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/sandbox\.git", e["ARGOCD_EKS_SANDBOX_GIT_URL"])
    assert e["AWS_ENDPOINT_URL"] == e["ARGOCD_EKS_SANDBOX_MOTO_URL"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", e["AWS_ENDPOINT_URL"])
    assert re.fullmatch(r"https://127\.0\.0\.1:\d+", e["ARGOCD_EKS_SANDBOX_APISERVER"])
    assert e["AWS_REGION"] == "us-east-1"
    assert e["ARGOCD_EKS_SANDBOX_HUB_ACCOUNT"] == HUB
    assert e["ARGOCD_EKS_SANDBOX_OTHER_ACCOUNT"] == OTHER
    assert e["ARGOCD_EKS_SANDBOX_RESTRICTED_CONTEXT"] == "sandbox-restricted"
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        assert Path(e[name]).read_text() == "", f"{name} must be an empty file"
    kubectl_path = Path(e["PATH"].split(os.pathsep)[0]) / "kubectl"
    assert kubectl_path.exists(), "PATH must start with the venv's bin (kubectl)"
    token_file = Path(e["ARGOCD_EKS_SANDBOX_ADMIN_TOKEN_FILE"])
    assert token_file.stat().st_mode & 0o077 == 0, "the admin token must be 0600"


# ---------------------------------------------------------------------- kubernetes


def test_kubeconfig_contexts(sandbox):
    assert kubectl(sandbox, "config", "current-context").stdout.strip() == HUB_CONTEXT
    names = kubectl(sandbox, "config", "get-contexts", "-o", "name").stdout.split()
    assert sorted(names) == sorted([HUB_CONTEXT, "sandbox-restricted"])
    server = kubectl(
        sandbox, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"
    ).stdout
    assert server == sandbox["exported"]["ARGOCD_EKS_SANDBOX_APISERVER"]


def test_apiserver_tls_verifies_with_the_ca(sandbox, ca_pem):
    version = https_get(
        sandbox["exported"]["ARGOCD_EKS_SANDBOX_APISERVER"] + "/version", ca_pem, admin_token(sandbox)
    )
    assert version["gitVersion"].startswith("v1.")


def test_argocd_service_accounts(sandbox):
    out = kubectl(sandbox, "get", "serviceaccounts", "-n", "argocd", "-o", "json").stdout
    names = {item["metadata"]["name"] for item in json.loads(out)["items"]}
    assert set(ARGOCD_SAS) <= names


def test_argocd_workloads(sandbox):
    out = kubectl(sandbox, "get", "statefulsets,deployments", "-n", "argocd", "-o", "json").stdout
    found = {
        (item["kind"], item["metadata"]["name"]): item["spec"]["template"]["spec"]
        for item in json.loads(out)["items"]
    }
    want = {
        ("StatefulSet", "argocd-application-controller"),
        ("Deployment", "argocd-server"),
        ("Deployment", "argocd-applicationset-controller"),
    }
    assert want <= set(found)
    for kind, name in want:
        spec = found[(kind, name)]
        assert spec["serviceAccountName"] == name
        assert spec["containers"][0]["image"] == "quay.io/argoproj/argocd:v3.2.0"


def test_admin_may_do_everything(sandbox):
    assert can_i(sandbox, "create", "secrets", HUB_CONTEXT)
    assert can_i(sandbox, "*", "*", HUB_CONTEXT)


def test_restricted_user_reads_but_does_not_write(sandbox):
    ctx = "sandbox-restricted"
    assert can_i(sandbox, "list", "serviceaccounts", ctx)
    assert can_i(sandbox, "get", "statefulsets.apps", ctx)
    assert can_i(sandbox, "get", "deployments.apps", ctx)
    assert not can_i(sandbox, "create", "secrets", ctx)
    assert not can_i(sandbox, "get", "secrets", ctx)
    assert not can_i(sandbox, "patch", "serviceaccounts", ctx)
    assert not can_i(sandbox, "patch", "deployments.apps", ctx)
    # A real request, not only the review: the apiserver answers 403.
    proc = kubectl(sandbox, "get", "secrets", "-n", "argocd", context=ctx, check=False)
    assert proc.returncode != 0 and "Forbidden" in proc.stderr
    out = kubectl(sandbox, "get", "serviceaccounts", "-n", "argocd", "-o", "name", context=ctx).stdout
    assert "serviceaccount/argocd-server" in out.split()


def test_audit_log_records_requests(sandbox):
    kubectl(sandbox, "get", "serviceaccount", "argocd-server", "-n", "argocd")
    log = sandbox["dir"] / "audit.log"
    deadline = time.time() + 5
    while True:
        events = [json.loads(line) for line in log.read_text().splitlines() if line]
        hits = [
            e
            for e in events
            # A rejected token (401) is logged with an empty user.
            if e["user"].get("username") == "sandbox-admin"
            and e["verb"] == "get"
            and e.get("objectRef", {}).get("name") == "argocd-server"
            and e.get("objectRef", {}).get("resource") == "serviceaccounts"
        ]
        if hits or time.time() > deadline:
            break
        time.sleep(0.1)
    assert hits, "the get is not in audit.log"
    # Metadata for every request, each logged once (watches log ResponseStarted too).
    assert all(e["level"] == "Metadata" for e in events)
    assert not [e for e in events if e["stage"] == "RequestReceived"]


# ---------------------------------------------------------------------- AWS


def test_clusters_per_account_and_region(aws):
    # Other tests may add clusters to the shared sandbox: the seeded ones must be where they
    # were put, and nowhere else.
    for (account, region), clusters in CLUSTERS.items():
        listed = set(aws("eks", account, region).list_clusters()["clusters"])
        assert set(clusters) <= listed, f"{account} {region}"
        elsewhere = {n for key, names in CLUSTERS.items() if key != (account, region) for n in names}
        assert not listed & elsewhere, f"{account} {region} lists another place's clusters"


def test_access_config_modes(aws):
    for (account, region), clusters in CLUSTERS.items():
        eks = aws("eks", account, region)
        for name, mode in clusters.items():
            c = eks.describe_cluster(name=name)["cluster"]
            assert c["accessConfig"]["authenticationMode"] == mode, name
            partition = {"cn": "aws-cn", "us-gov": "aws-us-gov"}.get(region.rsplit("-", 2)[0], "aws")
            assert c["arn"] == f"arn:{partition}:eks:{region}:{account}:cluster/{name}"


@pytest.mark.parametrize(
    "name, region",
    [("argocd-hub", "us-east-1"), ("staging", "us-east-1"), ("china-prod", "cn-north-1"), ("gov-prod", "us-gov-west-1")],
)
def test_clusters_point_at_the_sandbox_apiserver(sandbox, aws, ca_pem, name, region):
    c = aws("eks", HUB, region).describe_cluster(name=name)["cluster"]
    assert c["endpoint"] == sandbox["exported"]["ARGOCD_EKS_SANDBOX_APISERVER"]
    assert base64.b64decode(c["certificateAuthority"]["data"]) == ca_pem
    # The target is real: its /version answers over TLS verified with the CA EKS gave.
    version = https_get(
        c["endpoint"] + "/version",
        base64.b64decode(c["certificateAuthority"]["data"]),
        admin_token(sandbox),
    )
    assert version["major"] == "1"


def test_hub_oidc_issuer_is_the_apiservers(sandbox, aws, ca_pem):
    issuer = aws("eks", HUB).describe_cluster(name="argocd-hub")["cluster"]["identity"]["oidc"]["issuer"]
    assert re.fullmatch(r"https://oidc\.eks\.us-east-1\.amazonaws\.com/id/[0-9A-F]{32}", issuer)
    discovery = https_get(
        sandbox["exported"]["ARGOCD_EKS_SANDBOX_APISERVER"] + "/.well-known/openid-configuration",
        ca_pem,
        admin_token(sandbox),
    )
    assert discovery["issuer"] == issuer


def test_pod_identity_agent_addon(aws):
    eks = aws("eks", HUB)
    assert "eks-pod-identity-agent" in eks.list_addons(clusterName="argocd-hub")["addons"]
    addon = eks.describe_addon(clusterName="argocd-hub", addonName="eks-pod-identity-agent")["addon"]
    assert addon["clusterName"] == "argocd-hub"
    assert addon["addonName"] == "eks-pod-identity-agent"


def hub_issuer_host_path(aws):
    issuer = aws("eks", HUB).describe_cluster(name="argocd-hub")["cluster"]["identity"]["oidc"]["issuer"]
    return issuer.removeprefix("https://")


def test_oidc_provider(aws):
    hp = hub_issuer_host_path(aws)
    arn = f"arn:aws:iam::{HUB}:oidc-provider/{hp}"
    iam = aws("iam", HUB)
    arns = [p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
    assert arn in arns
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert provider["ClientIDList"] == ["sts.amazonaws.com"]
    other = aws("iam", OTHER).list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert f"arn:aws:iam::{OTHER}:oidc-provider/{hp}" not in [p["Arn"] for p in other]


def trust(aws, account, role):
    return aws("iam", account).get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]


def test_management_role_trusts_pod_identity(aws):
    assert trust(aws, HUB, "argocd-management") == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }


def test_irsa_role_trusts_the_argocd_service_accounts(aws):
    hp = hub_issuer_host_path(aws)
    assert trust(aws, HUB, "argocd-irsa") == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{HUB}:oidc-provider/{hp}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{hp}:sub": [f"system:serviceaccount:argocd:{sa}" for sa in ARGOCD_SAS],
                        f"{hp}:aud": "sts.amazonaws.com",
                    }
                },
            }
        ],
    }


def test_deployer_role_trusts_the_management_role(aws):
    assert trust(aws, OTHER, "argocd-deployer") == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{HUB}:role/argocd-management"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }


def test_roles_live_in_their_own_account(aws):
    hub_roles = {r["RoleName"] for r in aws("iam", HUB).list_roles()["Roles"]}
    other_roles = {r["RoleName"] for r in aws("iam", OTHER).list_roles()["Roles"]}
    assert {"argocd-management", "argocd-irsa"} <= hub_roles
    assert "argocd-deployer" not in hub_roles
    assert "argocd-deployer" in other_roles
    assert not {"argocd-management", "argocd-irsa"} & other_roles
