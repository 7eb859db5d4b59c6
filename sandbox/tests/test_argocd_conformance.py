"""Argo CD's own parser on every Secret shape `add` writes (fast; no Application involved).

`argocd-conformance` (sandbox/argocd_conformance/main.go, built by scripts/build-argocd in
the same module as Argo CD v3.2.11) runs util/db.SecretToCluster and the cluster's
RawRestConfig, as the application controller does, on Secrets read back from the sandbox
apiserver after a real `add`, and prints what Argo CD understood. Each test compares that
with what was intended; the last shows the comparison fails on a misspelt field (Argo CD
ignores unknown JSON fields silently, so only such a comparison can catch one).

Each test registers into its own namespace holding Argo CD's service accounts, so the
running Argo CD in `argocd` never sees these Secrets.
"""

import base64
import copy
import json
import subprocess
import uuid

import pytest
from conftest import SANDBOX
from test_argocd import irsa_trust, kubectl, make_role, sb, target_cluster, tool, trusts  # noqa: F401 - sb is a fixture

SERVICE_ACCOUNTS = ("argocd-application-controller", "argocd-server", "argocd-applicationset-controller")


@pytest.fixture(scope="module")
def conformance(sb):  # noqa: F811 - the fixture imported above
    bin_dir = subprocess.run(
        [str(SANDBOX.parent / "build-argocd")], capture_output=True, text=True, check=True
    ).stdout.strip().splitlines()[-1]
    path = f"{bin_dir}/argocd-conformance-v3.2.11"

    def understand(secret: dict) -> dict:
        done = subprocess.run([path], input=json.dumps(secret), capture_output=True, text=True, check=True)
        (result,) = json.loads(done.stdout)
        return result

    return understand


@pytest.fixture
def namespace(sb):  # noqa: F811
    ns = f"conf-{uuid.uuid4().hex[:8]}"
    kubectl(sb, "create", "namespace", ns)
    for sa in SERVICE_ACCOUNTS:
        kubectl(sb, "-n", ns, "create", "serviceaccount", sa)
    return ns


@pytest.fixture(scope="module")
def issuer(sb):  # noqa: F811
    return sb["aws"]("eks").describe_cluster(name="argocd-hub")["cluster"]["identity"]["oidc"]["issuer"]


def register(sb, namespace, *args):  # noqa: F811
    # About the Secret Argo CD reads, not the roles' trust: --force past add's check.
    run = tool(sb, "add", *args, "--argocd-namespace", namespace, "--yes", "--no-interactive", "--force")
    assert run.returncode == 0, run.stdout + run.stderr
    out = json.loads(
        kubectl(sb, "-n", namespace, "get", "secret", "-l", "argocd.argoproj.io/secret-type=cluster", "-o", "json").stdout
    )
    (secret,) = out["items"]
    return secret


def described(sb, name, account, region="us-east-1"):  # noqa: F811
    return sb["aws"]("eks", account, region).describe_cluster(name=name)["cluster"]


def expect(understood: dict, *, server, name, cluster_name=None, role_arn=None, ca=None, namespaces=None,
           project="", cluster_resources=False, labels=None):
    """Fails (AssertionError) where Argo CD understood the Secret otherwise than intended."""
    assert not understood.get("error"), understood["error"]
    assert understood["server"] == server
    assert understood["host"] == server
    assert understood["name"] == name
    if cluster_name is None:
        assert understood["exec"] is None, "no awsAuthConfig was intended"
    else:
        args = ["aws", "--cluster-name", cluster_name] + (["--role-arn", role_arn] if role_arn else [])
        assert understood["exec"] == {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "argocd-k8s-auth",
            "args": args,
        }
    if ca is not None:
        assert understood["caData"] == ca
        assert base64.b64decode(understood["caData"]).startswith(b"-----BEGIN CERTIFICATE-----")
    assert understood["insecure"] is False
    assert not understood["hasBearerToken"] and not understood["hasClientCert"], "the Secret must hold no credential"
    assert (understood["namespaces"] or None) == namespaces
    assert understood["project"] == project
    assert understood["clusterResources"] is cluster_resources
    want_labels = {"app.kubernetes.io/managed-by": "kubectl-argocd-eks", **(labels or {})}
    assert understood["labels"] == want_labels


def test_direct(sb, conformance, namespace, issuer):  # noqa: F811
    cluster, arn = target_cluster(sb, sb["hub"])
    mgmt = make_role(sb, sb["hub"], irsa_trust(sb, issuer), prefix="conf")
    secret = register(sb, namespace, cluster, "--identity", "irsa", "--management-role-arn", mgmt)
    c = described(sb, cluster, sb["hub"])
    expect(conformance(secret), server=c["endpoint"], name=arn, cluster_name=cluster, ca=c["certificateAuthority"]["data"])


def test_chained_across_accounts(sb, conformance, namespace):  # noqa: F811
    cluster, arn = target_cluster(sb, sb["other"])
    mgmt = make_role(sb, sb["hub"], [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}], prefix="conf")
    target = make_role(sb, sb["other"], trusts(mgmt, ("sts:AssumeRole", "sts:TagSession")), prefix="conf")
    secret = register(sb, namespace, cluster, "--assume-role", target, "--role-arn", target, "--identity", "pod-identity", "--management-role-arn", mgmt)
    c = described(sb, cluster, sb["other"])
    expect(conformance(secret), server=c["endpoint"], name=arn, cluster_name=cluster, role_arn=target, ca=c["certificateAuthority"]["data"])


def test_name_namespaces_project_cluster_resources_and_labels(sb, conformance, namespace, issuer):  # noqa: F811
    cluster, _ = target_cluster(sb, sb["hub"])
    mgmt = make_role(sb, sb["hub"], irsa_trust(sb, issuer), prefix="conf")
    secret = register(
        sb, namespace, cluster, "--identity", "irsa", "--management-role-arn", mgmt, "--name", "team-b",
        "--namespaces", "apps,tools", "--cluster-resources", "--project", "team-b",
        "--label", "env=prod", "--annotation", "owner=team-b",
    )
    c = described(sb, cluster, sb["hub"])
    understood = conformance(secret)
    expect(
        understood, server=c["endpoint"], name="team-b", cluster_name=cluster, ca=c["certificateAuthority"]["data"],
        namespaces=["apps", "tools"], project="team-b", cluster_resources=True, labels={"env": "prod"},
    )
    assert understood["annotations"].get("owner") == "team-b"


def test_capability_shape(sb, conformance, namespace):  # noqa: F811
    cluster, arn = target_cluster(sb, sb["hub"])
    capability = make_role(sb, sb["hub"], [{"Effect": "Allow", "Principal": {"Service": "capabilities.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}], prefix="conf")
    secret = register(sb, namespace, cluster, "--capability-role", capability)
    # The managed Argo CD's shape: the cluster ARN as server, no config (so no exec, no CA).
    expect(conformance(secret), server=arn, name=arn)


@pytest.mark.parametrize(
    "field, misspelt",
    [("clusterName", "clusterNmae"), ("awsAuthConfig", "awsAuthconfg"), ("roleARN", "roleArm"), ("caData", "caDate")],
)
def test_a_misspelt_field_is_caught(sb, conformance, namespace, field, misspelt):  # noqa: F811
    cluster, arn = target_cluster(sb, sb["other"])
    mgmt = make_role(sb, sb["hub"], [{"Effect": "Allow", "Principal": {"Service": "pods.eks.amazonaws.com"}, "Action": ["sts:AssumeRole", "sts:TagSession"]}], prefix="conf")
    target = make_role(sb, sb["other"], trusts(mgmt, ("sts:AssumeRole", "sts:TagSession")), prefix="conf")
    secret = register(sb, namespace, cluster, "--assume-role", target, "--role-arn", target, "--identity", "pod-identity", "--management-role-arn", mgmt)
    c = described(sb, cluster, sb["other"])
    intended = {"server": c["endpoint"], "name": arn, "cluster_name": cluster, "role_arn": target, "ca": c["certificateAuthority"]["data"]}
    expect(conformance(secret), **intended)  # as written: understood as intended

    broken = copy.deepcopy(secret)
    config = base64.b64decode(broken["data"]["config"]).decode()
    assert f'"{field}"' in config
    broken["data"]["config"] = base64.b64encode(config.replace(f'"{field}"', f'"{misspelt}"').encode()).decode()
    understood = conformance(broken)
    assert not understood.get("error"), "Argo CD ignores unknown fields: no error to see"
    with pytest.raises(AssertionError):
        expect(understood, **intended)
