"""Tests of the moto EKS extension (sandbox/moto_eks_ext), served on loopback and driven by boto3.

Every EKS response a test receives is also checked against botocore's EKS service model.
"""

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import botocore.config
import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

SANDBOX = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SANDBOX))

from moto_eks_ext import install  # noqa: E402
from moto_eks_ext.routes import ROUTES, url_pattern  # noqa: E402

ACCOUNT, OTHER_ACCOUNT = "123456789012", "210987654321"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/argocd-manager"
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"
POLICY = "arn:aws:eks::aws:cluster-access-policy/{}"
VPC = {"subnetIds": ["subnet-0123456789abcdef0"]}
MODEL = botocore.session.get_session().get_service_model("eks")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(url: str, method: str = "GET", body: object = None, headers: dict | None = None):
    """(status, headers, parsed JSON body) of a plain HTTP request; a body not in bytes is sent as JSON."""
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read() or b"null")


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The extension's server on a free loopback port; its URL."""
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto_eks_ext", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(SANDBOX)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            http(f"{url}/_sandbox/requests")
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("moto_eks_ext did not start: " + Path(log.name).read_text())
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


@pytest.fixture(autouse=True)
def fresh(server, monkeypatch):
    """Empty moto state and request log; no AWS profile from the environment."""
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    http(f"{server}/moto-api/reset", "POST")
    http(f"{server}/_sandbox/requests/reset", "POST")


def shape_errors(value, shape, path="$") -> list[str]:
    """Where a JSON value breaks a botocore shape (rest-json: timestamps are epoch numbers)."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: {value!r} is not an object"]
        members = {k: v for k, v in shape.members.items() if "location" not in v.serialization}
        errors = [f"{path}.{k}: not a member of {shape.name}" for k in value if k not in members]
        errors += [
            f"{path}.{k}: required, missing"
            for k in shape.required_members
            if k in members and k not in value
        ]
        for key, item in value.items():
            if key in members:
                errors += shape_errors(item, members[key], f"{path}.{key}")
        return errors
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: {value!r} is not a list"]
        return [e for i, item in enumerate(value) for e in shape_errors(item, shape.member, f"{path}[{i}]")]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: {value!r} is not a map"]
        return [e for k, item in value.items() for e in shape_errors(item, shape.value, f"{path}[{k}]")]
    expected = {
        "string": str,
        "boolean": bool,
        "integer": int,
        "long": int,
        "float": (int, float),
        "double": (int, float),
        "timestamp": (int, float),
        "blob": str,
    }[kind]
    if not isinstance(value, expected) or (
        kind in ("integer", "long", "timestamp") and isinstance(value, bool)
    ):
        return [f"{path}: {value!r} is not a {kind}"]
    if kind == "string" and shape.enum and value not in shape.enum:
        return [f"{path}: {value!r} not in {shape.enum}"]
    return []


def response_errors(operation, response: dict) -> list[str]:
    """Where a raw response breaks the operation's model (output, or a modeled error)."""
    body = json.loads(response["body"] or b"{}")
    status = response["status_code"]
    if status < 300:
        expected = operation.http.get("responseCode", 200)
        errors = [] if status == expected else [f"status {status}, model says {expected}"]
        return errors + shape_errors(body, operation.output_shape) if operation.output_shape else errors
    code = response["headers"].get("x-amzn-errortype", "")
    shapes = {shape.name: shape for shape in operation.error_shapes}
    if code not in shapes:
        return [f"error {code!r} is not one of {sorted(shapes)}"]
    errors = [] if body.get("__type") == code else [f"__type {body.get('__type')!r} is not {code}"]
    if status != shapes[code].metadata["error"]["httpStatusCode"]:
        errors.append(f"status {status} for {code}")
    body.pop("__type", None)
    return errors + shape_errors(body, shapes[code]) + ([] if "message" in body else ["no message"])


@pytest.fixture
def clients(server):
    """Makes EKS clients (region, account via x-moto-account-id) that record raw responses,
    and checks every recorded response against the model at teardown."""
    recorded = []

    def make(region="us-east-1", account=None, service="eks"):
        client = boto3.client(
            service,
            endpoint_url=server,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        if account:
            client.meta.events.register(
                "before-sign", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account)
            )
        client.meta.events.register(
            "before-parse.eks",
            lambda operation_model, response_dict, **_: recorded.append((operation_model, response_dict)),
        )
        return client

    make.recorded = recorded
    yield make
    problems = [f"{op.name}: {e}" for op, response in recorded for e in response_errors(op, response)]
    assert not problems, problems


@pytest.fixture
def eks(clients):
    return clients()


def api_cluster(eks, name="c1", mode="API_AND_CONFIG_MAP"):
    eks.create_cluster(
        name=name, roleArn=ROLE, resourcesVpcConfig=VPC, accessConfig={"authenticationMode": mode}
    )


def error_of(call, **kwargs) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response
    return error["Error"]["Code"], error["Error"]["Message"], error["ResponseMetadata"]["HTTPStatusCode"]


# Routes and model


@pytest.mark.parametrize("operation", sorted(ROUTES))
def test_route_matches_model(operation):
    method, uri = ROUTES[operation]
    http_trait = MODEL.operation_model(operation).http
    assert (method, uri) == (http_trait["method"], http_trait["requestUri"])
    install()
    from moto.eks.responses import EKSResponse

    assert callable(getattr(EKSResponse, botocore.xform_name(operation)))
    sample = re.sub(
        r"\{(\w+)\}", lambda label: "arn:aws:iam::1:role/p/x" if label[1].endswith("Arn") else "x", uri
    )
    assert re.match(url_pattern(uri).format(""), sample)


def test_shape_check_reports_drift():
    """The model check itself flags unknown, missing, null, mistyped and off-enum values."""
    addon = {
        "addonName": 1,
        "status": "READY",
        "createdAt": "2024-01-01",
        "health": {"issues": None},
        "extra": True,
    }
    assert shape_errors({"addon": addon}, MODEL.operation_model("DescribeAddon").output_shape) == [
        "$.addon.extra: not a member of Addon",
        "$.addon.addonName: 1 is not a string",
        "$.addon.status: 'READY' not in " + str(MODEL.shape_for("AddonStatus").enum),
        "$.addon.createdAt: '2024-01-01' is not a timestamp",
        "$.addon.health.issues: None is not a list",
    ]
    assert shape_errors({"serviceAccount": "s"}, MODEL.shape_for("AddonPodIdentityAssociations")) == [
        "$.roleArn: required, missing"
    ]


def test_every_operation_answers_in_model_shape(clients):
    """Drives every added or changed operation once; the clients fixture checks the shapes."""
    eks = clients()
    api_cluster(eks)
    eks.describe_cluster(name="c1")
    update = eks.update_cluster_config(name="c1", accessConfig={"authenticationMode": "API"})["update"]
    eks.describe_update(name="c1", updateId=update["id"])
    association = eks.create_pod_identity_association(
        clusterName="c1", namespace="argocd", serviceAccount="sa", roleArn=ROLE, tags={"k": "v"}
    )["association"]
    ids = {"clusterName": "c1", "associationId": association["associationId"]}
    eks.list_pod_identity_associations(clusterName="c1")
    eks.describe_pod_identity_association(**ids)
    eks.update_pod_identity_association(**ids, targetRoleArn=ROLE, disableSessionTags=True)
    eks.delete_pod_identity_association(**ids)
    entry = {"clusterName": "c1", "principalArn": ROLE}
    eks.create_access_entry(**entry, kubernetesGroups=["g"])
    eks.list_access_entries(clusterName="c1")
    eks.describe_access_entry(**entry)
    eks.update_access_entry(**entry, username="argocd")
    eks.associate_access_policy(
        **entry,
        policyArn=POLICY.format("AmazonEKSViewPolicy"),
        accessScope={"type": "namespace", "namespaces": ["a"]},
    )
    eks.list_associated_access_policies(**entry)
    eks.disassociate_access_policy(**entry, policyArn=POLICY.format("AmazonEKSViewPolicy"))
    eks.list_access_policies()
    eks.delete_access_entry(**entry)
    eks.create_addon(clusterName="c1", addonName="eks-pod-identity-agent", tags={"k": "v"})
    eks.describe_addon(clusterName="c1", addonName="eks-pod-identity-agent")
    eks.list_addons(clusterName="c1")
    eks.delete_addon(clusterName="c1", addonName="eks-pod-identity-agent")
    error_of(eks.describe_access_entry, **entry)
    called = {op.name for op, _ in clients.recorded}
    assert called >= set(ROUTES) | {"CreateCluster", "DescribeCluster", "UpdateClusterConfig"}


def test_error_wire_shape(server, eks):
    """An EKS error carries x-amzn-ErrorType and a JSON body with __type and message."""
    request = AWSRequest(method="GET", url=f"{server}/clusters/missing", headers={})
    SigV4Auth(Credentials("testing", "testing"), "eks", "us-east-1").add_auth(request)
    status, headers, body = http(request.url, headers=dict(request.headers))
    assert status == 404
    assert headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert headers["Content-Type"] == "application/json"
    assert body == {"__type": "ResourceNotFoundException", "message": "No cluster found for name: missing."}
    assert error_of(eks.describe_cluster, name="missing")[0] == "ResourceNotFoundException"


# Pod identity associations


def test_pod_identity_association_lifecycle(eks):
    eks.create_cluster(name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)
    created = eks.create_pod_identity_association(
        clusterName="c1", namespace="argocd", serviceAccount="argocd-server", roleArn=ROLE
    )["association"]
    association_id = created["associationId"]
    assert re.fullmatch(r"a-[a-z0-9]{17}", association_id)
    assert (
        created["associationArn"]
        == f"arn:aws:eks:us-east-1:{ACCOUNT}:podidentityassociation/c1/{association_id}"
    )
    assert (created["namespace"], created["serviceAccount"], created["roleArn"]) == (
        "argocd",
        "argocd-server",
        ROLE,
    )
    assert created["disableSessionTags"] is False and "targetRoleArn" not in created
    ids = {"clusterName": "c1", "associationId": association_id}
    assert eks.describe_pod_identity_association(**ids)["association"] == created

    target = f"arn:aws:iam::{OTHER_ACCOUNT}:role/argocd-target"
    updated = eks.update_pod_identity_association(**ids, targetRoleArn=target)["association"]
    assert (updated["roleArn"], updated["targetRoleArn"]) == (ROLE, target)
    assert re.fullmatch(r"[0-9a-f-]{36}", updated["externalId"])
    other_role = f"arn:aws:iam::{ACCOUNT}:role/other"
    assert (
        eks.update_pod_identity_association(**ids, roleArn=other_role)["association"]["roleArn"] == other_role
    )

    assert eks.delete_pod_identity_association(**ids)["association"]["associationId"] == association_id
    assert eks.list_pod_identity_associations(clusterName="c1")["associations"] == []
    assert error_of(eks.describe_pod_identity_association, **ids)[::2] == ("ResourceNotFoundException", 404)


def test_pod_identity_association_filters_and_pages(eks):
    eks.create_cluster(name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)
    for namespace in ("a", "b"):
        for account in ("sa1", "sa2", "sa3"):
            eks.create_pod_identity_association(
                clusterName="c1", namespace=namespace, serviceAccount=account, roleArn=ROLE
            )
    by_namespace = eks.list_pod_identity_associations(clusterName="c1", namespace="a")["associations"]
    assert sorted(a["serviceAccount"] for a in by_namespace) == ["sa1", "sa2", "sa3"]
    assert set(by_namespace[0]) == {
        "clusterName",
        "namespace",
        "serviceAccount",
        "associationArn",
        "associationId",
    }
    both = eks.list_pod_identity_associations(clusterName="c1", namespace="b", serviceAccount="sa2")[
        "associations"
    ]
    assert [(a["namespace"], a["serviceAccount"]) for a in both] == [("b", "sa2")]

    pages = list(
        eks.get_paginator("list_pod_identity_associations").paginate(
            clusterName="c1", PaginationConfig={"PageSize": 4}
        )
    )
    assert [len(p["associations"]) for p in pages] == [4, 2]
    assert len({a["associationId"] for p in pages for a in p["associations"]}) == 6
    assert error_of(eks.list_pod_identity_associations, clusterName="c1", nextToken="bogus")[::2] == (
        "InvalidParameterException",
        400,
    )


def test_pod_identity_association_conflict(eks):
    eks.create_cluster(name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)
    eks.create_pod_identity_association(
        clusterName="c1", namespace="argocd", serviceAccount="sa", roleArn=ROLE
    )
    code, _, status = error_of(
        eks.create_pod_identity_association,
        clusterName="c1",
        namespace="argocd",
        serviceAccount="sa",
        roleArn=ROLE,
    )
    assert (code, status) == ("ResourceInUseException", 409)
    code, message, status = error_of(
        eks.create_pod_identity_association,
        clusterName="c1",
        namespace="argocd",
        serviceAccount="x",
        roleArn="nope",
    )
    assert (code, status) == ("InvalidParameterException", 400)


# Access entries and policies


def test_access_entry_lifecycle(eks):
    api_cluster(eks)
    role_entry = eks.create_access_entry(clusterName="c1", principalArn=ROLE, kubernetesGroups=["viewers"])[
        "accessEntry"
    ]
    assert role_entry["username"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/argocd-manager/{{{{SessionName}}}}"
    assert role_entry["type"] == "STANDARD" and role_entry["kubernetesGroups"] == ["viewers"]
    assert role_entry["accessEntryArn"].startswith(
        f"arn:aws:eks:us-east-1:{ACCOUNT}:access-entry/c1/role/{ACCOUNT}/argocd-manager/"
    )
    path_role = f"arn:aws:iam::{ACCOUNT}:role/team/deployer"
    assert eks.create_access_entry(clusterName="c1", principalArn=path_role)["accessEntry"]["username"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/{{{{SessionName}}}}"
    )
    user_entry = eks.create_access_entry(clusterName="c1", principalArn=USER, username="alice")["accessEntry"]
    assert user_entry["username"] == "alice"
    default_user = eks.create_access_entry(clusterName="c1", principalArn=f"{USER}2")["accessEntry"]
    assert default_user["username"] == f"{USER}2"

    assert eks.list_access_entries(clusterName="c1")["accessEntries"] == sorted(
        [ROLE, path_role, USER, f"{USER}2"]
    )
    assert eks.describe_access_entry(clusterName="c1", principalArn=ROLE)["accessEntry"] == role_entry
    updated = eks.update_access_entry(
        clusterName="c1", principalArn=ROLE, kubernetesGroups=[], username="argo"
    )["accessEntry"]
    assert (updated["kubernetesGroups"], updated["username"]) == ([], "argo")

    eks.delete_access_entry(clusterName="c1", principalArn=ROLE)
    assert error_of(eks.describe_access_entry, clusterName="c1", principalArn=ROLE)[::2] == (
        "ResourceNotFoundException",
        404,
    )
    assert (
        error_of(eks.delete_access_entry, clusterName="c1", principalArn=ROLE)[0]
        == "ResourceNotFoundException"
    )


def test_access_entry_rejections(eks):
    api_cluster(eks)
    eks.create_access_entry(clusterName="c1", principalArn=ROLE)
    assert error_of(eks.create_access_entry, clusterName="c1", principalArn=ROLE)[::2] == (
        "ResourceInUseException",
        409,
    )
    assumed = f"arn:aws:sts::{ACCOUNT}:assumed-role/argocd-manager/session"
    assert error_of(eks.create_access_entry, clusterName="c1", principalArn=assumed)[::2] == (
        "InvalidParameterException",
        400,
    )


def test_access_entries_need_api_authentication_mode(eks):
    eks.create_cluster(name="legacy", roleArn=ROLE, resourcesVpcConfig=VPC)
    message = (
        "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP]"
        " to perform this operation."
    )
    entry = {"clusterName": "legacy", "principalArn": ROLE}
    for call, kwargs in [
        (eks.create_access_entry, entry),
        (eks.list_access_entries, {"clusterName": "legacy"}),
        (eks.describe_access_entry, entry),
        (eks.update_access_entry, entry),
        (eks.delete_access_entry, entry),
        (
            eks.associate_access_policy,
            {**entry, "policyArn": POLICY.format("AmazonEKSViewPolicy"), "accessScope": {"type": "cluster"}},
        ),
        (eks.list_associated_access_policies, entry),
        (eks.disassociate_access_policy, {**entry, "policyArn": POLICY.format("AmazonEKSViewPolicy")}),
    ]:
        assert error_of(call, **kwargs) == ("InvalidRequestException", message, 400)


def test_access_policies(eks):
    api_cluster(eks)
    entry = {"clusterName": "c1", "principalArn": ROLE}
    eks.create_access_entry(**entry)
    admin, view = POLICY.format("AmazonEKSClusterAdminPolicy"), POLICY.format("AmazonEKSViewPolicy")
    first = eks.associate_access_policy(**entry, policyArn=admin, accessScope={"type": "cluster"})
    assert (first["clusterName"], first["principalArn"]) == ("c1", ROLE)
    assert first["associatedAccessPolicy"]["accessScope"] == {"type": "cluster", "namespaces": []}
    again = eks.associate_access_policy(
        **entry, policyArn=admin, accessScope={"type": "namespace", "namespaces": ["argocd"]}
    )["associatedAccessPolicy"]
    assert again["accessScope"] == {"type": "namespace", "namespaces": ["argocd"]}
    assert again["associatedAt"] == first["associatedAccessPolicy"]["associatedAt"]
    eks.associate_access_policy(**entry, policyArn=view, accessScope={"type": "cluster"})
    listed = eks.list_associated_access_policies(**entry)
    assert (listed["clusterName"], listed["principalArn"]) == ("c1", ROLE)
    assert [(p["policyArn"], p["accessScope"]["type"]) for p in listed["associatedAccessPolicies"]] == [
        (admin, "namespace"),
        (view, "cluster"),
    ]
    eks.create_access_entry(clusterName="c1", principalArn=USER)
    assert eks.list_access_entries(clusterName="c1", associatedPolicyArn=view)["accessEntries"] == [ROLE]

    for bad in [
        {"policyArn": POLICY.format("AmazonEKSMadeUpPolicy"), "accessScope": {"type": "cluster"}},
        {"policyArn": "arn:aws:iam::aws:policy/AdministratorAccess", "accessScope": {"type": "cluster"}},
        {"policyArn": view, "accessScope": {"type": "namespace"}},
    ]:
        assert error_of(eks.associate_access_policy, **entry, **bad)[::2] == (
            "InvalidParameterException",
            400,
        )
    assert (
        error_of(
            eks.associate_access_policy,
            clusterName="c1",
            principalArn=f"{USER}x",
            policyArn=view,
            accessScope={"type": "cluster"},
        )[0]
        == "ResourceNotFoundException"
    )

    eks.disassociate_access_policy(**entry, policyArn=view)
    assert [
        p["policyArn"] for p in eks.list_associated_access_policies(**entry)["associatedAccessPolicies"]
    ] == [admin]
    assert error_of(eks.disassociate_access_policy, **entry, policyArn=view)[::2] == (
        "ResourceNotFoundException",
        404,
    )

    policies = [
        p
        for page in eks.get_paginator("list_access_policies").paginate(PaginationConfig={"PageSize": 3})
        for p in page["accessPolicies"]
    ]
    for name in (
        "AmazonEKSClusterAdminPolicy",
        "AmazonEKSAdminPolicy",
        "AmazonEKSEditPolicy",
        "AmazonEKSViewPolicy",
    ):
        assert {"name": name, "arn": POLICY.format(name)} in policies


# Add-ons


def test_addons(eks):
    eks.create_cluster(name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)
    addon = eks.create_addon(clusterName="c1", addonName="eks-pod-identity-agent")["addon"]
    assert (addon["status"], addon["addonVersion"]) == ("ACTIVE", "v1.3.4-eksbuild.1")
    assert addon["addonArn"].startswith(f"arn:aws:eks:us-east-1:{ACCOUNT}:addon/c1/eks-pod-identity-agent/")
    pinned = eks.create_addon(clusterName="c1", addonName="vpc-cni", addonVersion="v1.19.0-eksbuild.1")[
        "addon"
    ]
    assert pinned["addonVersion"] == "v1.19.0-eksbuild.1"
    assert eks.describe_addon(clusterName="c1", addonName="vpc-cni")["addon"] == pinned
    assert eks.list_addons(clusterName="c1")["addons"] == ["eks-pod-identity-agent", "vpc-cni"]
    assert error_of(eks.create_addon, clusterName="c1", addonName="vpc-cni")[::2] == (
        "ResourceInUseException",
        409,
    )
    assert eks.delete_addon(clusterName="c1", addonName="vpc-cni")["addon"]["addonName"] == "vpc-cni"
    assert eks.list_addons(clusterName="c1")["addons"] == ["eks-pod-identity-agent"]
    assert error_of(eks.describe_addon, clusterName="c1", addonName="vpc-cni")[::2] == (
        "ResourceNotFoundException",
        404,
    )
    assert error_of(eks.delete_addon, clusterName="c1", addonName="vpc-cni")[0] == "ResourceNotFoundException"


# Access config


def test_auto_mode(eks):
    """computeConfig, storageConfig and elasticLoadBalancing: absent by default, all three on
    (EKS Auto Mode, where the pod identity agent is built in) or refused when mixed."""
    plain = eks.create_cluster(name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)["cluster"]
    assert "computeConfig" not in plain and "storageConfig" not in plain
    auto = {
        "computeConfig": {"enabled": True, "nodePools": ["general-purpose", "system"], "nodeRoleArn": ROLE},
        "storageConfig": {"blockStorage": {"enabled": True}},
        "kubernetesNetworkConfig": {"elasticLoadBalancing": {"enabled": True}},
    }
    created = eks.create_cluster(name="auto", roleArn=ROLE, resourcesVpcConfig=VPC, **auto)["cluster"]
    described = eks.describe_cluster(name="auto")["cluster"]
    for cluster in (created, described):
        assert cluster["computeConfig"] == auto["computeConfig"]
        assert cluster["storageConfig"] == {"blockStorage": {"enabled": True}}
        assert cluster["kubernetesNetworkConfig"]["elasticLoadBalancing"] == {"enabled": True}

    mixed = {**auto, "storageConfig": {"blockStorage": {"enabled": False}}}
    code, message, status = error_of(
        eks.create_cluster, name="mixed", roleArn=ROLE, resourcesVpcConfig=VPC, **mixed
    )
    assert (code, status) == ("InvalidParameterException", 400) and "Auto Mode" in message
    assert "mixed" not in eks.list_clusters()["clusters"]

    update = eks.update_cluster_config(name="c1", **auto)["update"]
    assert (update["type"], update["status"]) == ("AutoModeUpdate", "Successful")
    assert eks.describe_cluster(name="c1")["cluster"]["computeConfig"]["enabled"] is True
    off = {
        "computeConfig": {"enabled": False},
        "storageConfig": {"blockStorage": {"enabled": False}},
        "kubernetesNetworkConfig": {"elasticLoadBalancing": {"enabled": False}},
    }
    eks.update_cluster_config(name="c1", **off)
    assert eks.describe_cluster(name="c1")["cluster"]["computeConfig"] == {"enabled": False}


def test_access_config(eks):
    default = eks.create_cluster(name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)["cluster"]
    assert default["accessConfig"] == {
        "authenticationMode": "CONFIG_MAP",
        "bootstrapClusterCreatorAdminPermissions": True,
    }
    chosen = eks.create_cluster(
        name="c2",
        roleArn=ROLE,
        resourcesVpcConfig=VPC,
        accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False},
    )["cluster"]
    assert chosen["accessConfig"] == {
        "authenticationMode": "API",
        "bootstrapClusterCreatorAdminPermissions": False,
    }
    assert eks.describe_cluster(name="c2")["cluster"]["accessConfig"] == chosen["accessConfig"]

    assert error_of(eks.update_cluster_config, name="c1", accessConfig={"authenticationMode": "API"})[
        ::2
    ] == (
        "InvalidParameterException",
        400,
    )
    for mode in ("API_AND_CONFIG_MAP", "API"):
        update = eks.update_cluster_config(name="c1", accessConfig={"authenticationMode": mode})["update"]
        assert (update["type"], update["status"]) == ("AccessConfigUpdate", "Successful")
        assert update["params"] == [{"type": "AuthenticationMode", "value": mode}]
        assert eks.describe_cluster(name="c1")["cluster"]["accessConfig"]["authenticationMode"] == mode
        assert eks.describe_update(name="c1", updateId=update["id"])["update"] == update
    for mode in ("API", "API_AND_CONFIG_MAP", "CONFIG_MAP"):
        assert error_of(eks.update_cluster_config, name="c1", accessConfig={"authenticationMode": mode})[
            0
        ] == ("InvalidParameterException")
    logging = {"clusterLogging": [{"types": ["api"], "enabled": True}]}
    assert eks.update_cluster_config(name="c1", logging=logging)["update"]["status"] == "Successful"
    assert eks.describe_cluster(name="c1")["cluster"]["logging"] == logging
    assert error_of(eks.describe_update, name="c1", updateId="nope")[0] == "ResourceNotFoundException"


# Unknown clusters


MISSING = {"clusterName": "missing"}
ON_MISSING_CLUSTER = [
    (
        "create_pod_identity_association",
        {**MISSING, "namespace": "n", "serviceAccount": "s", "roleArn": ROLE},
    ),
    ("list_pod_identity_associations", MISSING),
    ("describe_pod_identity_association", {**MISSING, "associationId": "a-00000000000000000"}),
    ("update_pod_identity_association", {**MISSING, "associationId": "a-00000000000000000", "roleArn": ROLE}),
    ("delete_pod_identity_association", {**MISSING, "associationId": "a-00000000000000000"}),
    ("create_access_entry", {**MISSING, "principalArn": ROLE}),
    ("list_access_entries", MISSING),
    ("describe_access_entry", {**MISSING, "principalArn": ROLE}),
    ("update_access_entry", {**MISSING, "principalArn": ROLE}),
    ("delete_access_entry", {**MISSING, "principalArn": ROLE}),
    (
        "associate_access_policy",
        {
            **MISSING,
            "principalArn": ROLE,
            "policyArn": POLICY.format("AmazonEKSViewPolicy"),
            "accessScope": {"type": "cluster"},
        },
    ),
    ("list_associated_access_policies", {**MISSING, "principalArn": ROLE}),
    (
        "disassociate_access_policy",
        {**MISSING, "principalArn": ROLE, "policyArn": POLICY.format("AmazonEKSViewPolicy")},
    ),
    ("create_addon", {**MISSING, "addonName": "vpc-cni"}),
    ("describe_addon", {**MISSING, "addonName": "vpc-cni"}),
    ("list_addons", MISSING),
    ("delete_addon", {**MISSING, "addonName": "vpc-cni"}),
    ("describe_cluster", {"name": "missing"}),
    ("update_cluster_config", {"name": "missing", "accessConfig": {"authenticationMode": "API"}}),
    ("describe_update", {"name": "missing", "updateId": "u"}),
]


@pytest.mark.parametrize("method, kwargs", ON_MISSING_CLUSTER, ids=[m for m, _ in ON_MISSING_CLUSTER])
def test_unknown_cluster(eks, method, kwargs):
    code, message, status = error_of(getattr(eks, method), **kwargs)
    assert (code, message, status) == (
        "ResourceNotFoundException",
        "No cluster found for name: missing.",
        404,
    )


# Accounts and regions


def test_accounts_and_regions_are_isolated(clients):
    home, other, europe = clients(), clients(account=OTHER_ACCOUNT), clients(region="eu-west-1")
    other_arn = other.create_cluster(name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)["cluster"]["arn"]
    assert other_arn == f"arn:aws:eks:us-east-1:{OTHER_ACCOUNT}:cluster/c1"
    assert error_of(home.describe_cluster, name="c1")[0] == "ResourceNotFoundException"
    association = other.create_pod_identity_association(
        clusterName="c1", namespace="n", serviceAccount="s", roleArn=ROLE
    )["association"]
    assert f":{OTHER_ACCOUNT}:" in association["associationArn"]

    api_cluster(europe)
    entry = europe.create_access_entry(clusterName="c1", principalArn=ROLE)["accessEntry"]
    assert entry["accessEntryArn"].startswith(f"arn:aws:eks:eu-west-1:{ACCOUNT}:")
    assert error_of(home.list_access_entries, clusterName="c1")[0] == "ResourceNotFoundException"
    assert europe.list_pod_identity_associations(clusterName="c1")["associations"] == []
    assert (
        other.list_pod_identity_associations(clusterName="c1")["associations"][0]["associationId"]
        == (association["associationId"])
    )


# Sandbox routes


def test_cluster_override(server, eks):
    eks.create_cluster(name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)
    before = eks.describe_cluster(name="c1")["cluster"]
    fields = {
        "endpoint": "https://127.0.0.1:45053",
        "caData": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t",
        "oidcIssuer": "https://oidc.eks.us-east-1.amazonaws.com/id/ABCDEF0123456789",
    }
    status, _, body = http(
        f"{server}/_sandbox/eks/cluster",
        "POST",
        {"account": ACCOUNT, "region": "us-east-1", "name": "c1", **fields},
    )
    assert (status, body) == (200, {"name": "c1", **fields, "status": "ACTIVE"})
    after = eks.describe_cluster(name="c1")["cluster"]
    assert after["endpoint"] == fields["endpoint"]
    assert after["certificateAuthority"]["data"] == fields["caData"]
    assert after["identity"]["oidc"]["issuer"] == fields["oidcIssuer"]
    assert after["arn"] == before["arn"]

    partial = {"account": ACCOUNT, "region": "us-east-1", "name": "c1", "endpoint": "https://127.0.0.1:1"}
    assert http(f"{server}/_sandbox/eks/cluster", "POST", partial)[2]["caData"] == fields["caData"]
    for missing in [
        {**partial, "name": "nope"},
        {**partial, "account": OTHER_ACCOUNT},
        {**partial, "region": "eu-west-1"},
    ]:
        status, _, body = http(f"{server}/_sandbox/eks/cluster", "POST", missing)
        assert status == 404 and "message" in body
    assert http(f"{server}/_sandbox/eks/cluster", "POST", {"name": "c1"})[0] == 400


@pytest.mark.parametrize("status", ["CREATING", "DELETING", "FAILED", "ACTIVE"])
def test_cluster_override_sets_the_status(server, eks, status):
    eks.create_cluster(name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)
    where = {"account": ACCOUNT, "region": "us-east-1", "name": "c1"}
    assert http(f"{server}/_sandbox/eks/cluster", "POST", {**where, "status": status})[2]["status"] == status
    assert eks.describe_cluster(name="c1")["cluster"]["status"] == status
    assert "c1" in eks.list_clusters()["clusters"]


def test_request_log(server, clients):
    eks, other = clients(), clients(account=OTHER_ACCOUNT)
    sts = clients(service="sts")
    eks.create_cluster(name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)
    error_of(eks.describe_cluster, name="missing")
    error_of(other.list_addons, clusterName="c1")
    eks.create_pod_identity_association(clusterName="c1", namespace="n", serviceAccount="s", roleArn=ROLE)
    sts.get_caller_identity()
    http(f"{server}/_sandbox/eks/cluster", "POST", {"account": ACCOUNT, "region": "us-east-1", "name": "c1"})
    status, _, log = http(f"{server}/_sandbox/requests")
    assert status == 200
    # Each entry has the answer's status code: a refused or failed call is told apart.
    assert [entry.pop("status") for entry in log] == [200, 404, 404, 200, 200]
    agents = [entry.pop("user_agent") for entry in log]
    assert all(agent.startswith("Boto3/") for agent in agents), agents
    # When moto took each (its monotonic clock) and for how long, in order.
    received = [entry.pop("at") for entry in log]
    assert received == sorted(received)
    assert all(0 < entry.pop("ms") < 10_000 for entry in log)
    assert log == [
        {
            "method": "POST",
            "path": "/clusters",
            "service": "eks",
            "action": "CreateCluster",
            "account": ACCOUNT,
        },
        {
            "method": "GET",
            "path": "/clusters/missing",
            "service": "eks",
            "action": "DescribeCluster",
            "account": ACCOUNT,
        },
        {
            "method": "GET",
            "path": "/clusters/c1/addons",
            "service": "eks",
            "action": "ListAddons",
            "account": OTHER_ACCOUNT,
        },
        {
            "method": "POST",
            "path": "/clusters/c1/pod-identity-associations",
            "service": "eks",
            "action": "CreatePodIdentityAssociation",
            "account": ACCOUNT,
        },
        {"method": "POST", "path": "/", "service": "sts", "action": "GetCallerIdentity", "account": ACCOUNT},
    ]
    assert http(f"{server}/_sandbox/requests/reset", "POST")[0] == 200
    assert http(f"{server}/_sandbox/requests")[2] == []


def test_iam_enforcement_on_eks(server, clients):
    """With IAM enforced, signed GETs pass and a refusal parses as AccessDeniedException."""
    iam = clients(service="iam")
    iam.create_user(UserName="reader")
    allow = {
        "Effect": "Allow",
        "Action": ["eks:DescribeCluster", "eks:ListPodIdentityAssociations"],
        "Resource": "*",
    }
    iam.put_user_policy(
        UserName="reader",
        PolicyName="read",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow]}),
    )
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    clients().create_cluster(name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)
    reader = boto3.client(
        "eks",
        endpoint_url=server,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    plain = {"Content-Type": "text/plain"}
    assert http(f"{server}/moto-api/reset-auth", "POST", b"0", plain)[0] == 200
    try:
        assert reader.describe_cluster(name="c1")["cluster"]["name"] == "c1"
        assert reader.list_pod_identity_associations(clusterName="c1", namespace="n")["associations"] == []
        code, message, status = error_of(
            reader.create_pod_identity_association,
            clusterName="c1",
            namespace="n",
            serviceAccount="s",
            roleArn=ROLE,
        )
        assert (code, status) == ("AccessDeniedException", 403)
        assert message.startswith(
            f"User: arn:aws:iam::{ACCOUNT}:user/reader is not authorized to perform: eks:"
        )
    finally:
        http(f"{server}/moto-api/reset-auth", "POST", b"inf", plain)


# ---------------------------------------------------------------------- fidelity to EKS


def test_each_cluster_has_its_own_endpoint_ca_and_issuer(eks):
    for name in ("c1", "c2"):
        api_cluster(eks, name)
    c1, c2 = (eks.describe_cluster(name=n)["cluster"] for n in ("c1", "c2"))
    assert c1["endpoint"] != c2["endpoint"]
    assert c1["certificateAuthority"]["data"] != c2["certificateAuthority"]["data"]
    assert c1["identity"]["oidc"]["issuer"] != c2["identity"]["oidc"]["issuer"]
    assert re.fullmatch(r"https://[0-9A-F]{32}\.[a-z]{2}[0-9]\.us-east-1\.eks\.amazonaws\.com", c1["endpoint"])
    assert re.fullmatch(r"https://oidc\.eks\.us-east-1\.amazonaws\.com/id/[0-9A-F]{32}", c1["identity"]["oidc"]["issuer"])
    pem = base64.b64decode(c1["certificateAuthority"]["data"]).decode()
    assert pem.startswith("-----BEGIN CERTIFICATE-----"), pem[:40]


@pytest.mark.parametrize(
    "region, partition, suffix",
    [("cn-north-1", "aws-cn", "amazonaws.com.cn"), ("us-gov-west-1", "aws-us-gov", "amazonaws.com")],
)
def test_clusters_and_access_policies_follow_their_partition(clients, region, partition, suffix):
    eks = clients(region=region)
    role = f"arn:{partition}:iam::{ACCOUNT}:role/argocd-manager"
    eks.create_cluster(
        name="p1", roleArn=role, resourcesVpcConfig=VPC, accessConfig={"authenticationMode": "API"}
    )
    cluster = eks.describe_cluster(name="p1")["cluster"]
    assert cluster["arn"] == f"arn:{partition}:eks:{region}:{ACCOUNT}:cluster/p1"
    assert cluster["endpoint"].endswith(f".{region}.eks.{suffix}"), cluster["endpoint"]
    assert cluster["identity"]["oidc"]["issuer"].startswith(f"https://oidc.eks.{region}.{suffix}/id/")
    policies = {p["name"]: p["arn"] for p in eks.list_access_policies()["accessPolicies"]}
    admin = f"arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    assert policies["AmazonEKSClusterAdminPolicy"] == admin
    eks.create_access_entry(clusterName="p1", principalArn=role)
    scope = {"type": "cluster"}
    commercial = POLICY.format("AmazonEKSClusterAdminPolicy")
    code, _, _ = error_of(
        eks.associate_access_policy, clusterName="p1", principalArn=role, policyArn=commercial, accessScope=scope
    )
    assert code == "InvalidParameterException"
    eks.associate_access_policy(clusterName="p1", principalArn=role, policyArn=admin, accessScope=scope)


@pytest.mark.parametrize(
    "service, call, code",
    [
        ("sts", lambda c: c.get_caller_identity(), "InvalidClientTokenId"),
        ("iam", lambda c: c.list_roles(), "InvalidClientTokenId"),
        ("eks", lambda c: c.list_clusters(), "UnrecognizedClientException"),
    ],
)
def test_an_access_key_nobody_issued_is_refused(server, service, call, code):
    unknown = boto3.client(
        service,
        endpoint_url=server,
        region_name="us-east-1",
        aws_access_key_id="AKIAUNKNOWNKEY000000",
        aws_secret_access_key="x" * 40,
    )
    with pytest.raises(ClientError) as caught:
        call(unknown)
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    known = boto3.client(
        service,
        endpoint_url=server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    call(known)


def test_a_role_session_past_its_expiration_is_refused_like_aws(server, clients):
    iam = clients(service="iam")
    iam.create_role(RoleName="temp", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    session = clients(service="sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/temp", RoleSessionName="ses")
    creds = session["Credentials"]

    def client(service):
        return boto3.client(
            service,
            endpoint_url=server,
            region_name="us-east-1",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )

    assert client("sts").get_caller_identity()["Arn"].endswith(":assumed-role/temp/ses")
    status, _, _ = http(f"{server}/_sandbox/credentials/expire", "POST", {"accessKeyId": creds["AccessKeyId"]})
    assert status == 200
    for service, call, code in [
        ("sts", lambda c: c.get_caller_identity(), "ExpiredToken"),
        ("eks", lambda c: c.list_clusters(), "ExpiredTokenException"),
    ]:
        with pytest.raises(ClientError) as caught:
            call(client(service))
        assert caught.value.response["Error"]["Code"] == code
        assert caught.value.response["Error"]["Message"] == "The security token included in the request is expired"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert http(f"{server}/_sandbox/credentials/expire", "POST", {"accessKeyId": "AKIANOSUCHKEY"})[0] == 404


def test_keys_moto_issued_are_accepted(server):
    iam = boto3.client(
        "iam", endpoint_url=server, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    iam.create_user(UserName="bob")
    key = iam.create_access_key(UserName="bob")["AccessKey"]
    sts = boto3.client(
        "sts",
        endpoint_url=server,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    assert sts.get_caller_identity()["Arn"].endswith(":user/bob")


def test_a_region_the_account_has_not_enabled_refuses_like_aws(server, clients):
    status, _, body = http(
        f"{server}/_sandbox/regions", "POST", {"account": OTHER_ACCOUNT, "disabled": ["ap-east-2"]}
    )
    assert status == 200 and body == {OTHER_ACCOUNT: ["ap-east-2"]}
    refused = boto3.client(
        "eks",
        endpoint_url=server,
        region_name="ap-east-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    refused.meta.events.register(
        "before-sign", lambda request, **_: request.headers.__setitem__("x-moto-account-id", OTHER_ACCOUNT)
    )
    with pytest.raises(ClientError) as caught:
        refused.list_clusters()  # not through `clients`: the error is not in the EKS model
    assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"
    clients(region="ap-east-2", account=ACCOUNT).list_clusters()  # enabled in the other account
    clients(region="us-east-1", account=OTHER_ACCOUNT).list_clusters()
    http(f"{server}/moto-api/reset", "POST")
    clients(region="ap-east-2", account=OTHER_ACCOUNT).list_clusters()


def test_creates_that_find_the_object_there_answer_resource_in_use_as_botocore_names_it(eks):
    """Two runs at once: the second create of an association or an access entry is refused with
    the error EKS's model lists for that operation, which the tool reads back after."""
    for operation in ("CreatePodIdentityAssociation", "CreateAccessEntry"):
        errors = [shape.name for shape in MODEL.operation_model(operation).error_shapes]
        assert "ResourceInUseException" in errors, operation
    api_cluster(eks)
    eks.create_access_entry(clusterName="c1", principalArn=ROLE)
    eks.create_pod_identity_association(clusterName="c1", namespace="n", serviceAccount="sa", roleArn=ROLE)
    assert error_of(eks.create_access_entry, clusterName="c1", principalArn=ROLE)[::2] == (
        "ResourceInUseException",
        409,
    )
    code, message, status = error_of(
        eks.create_pod_identity_association, clusterName="c1", namespace="n", serviceAccount="sa", roleArn=ROLE
    )
    assert (code, status) == ("ResourceInUseException", 409)
    assert message.startswith("Association already exists: a-")


def test_faults_fail_the_next_matching_calls_and_stay_out_of_the_request_log(server, eks):
    api_cluster(eks)
    http(f"{server}/_sandbox/requests/reset", "POST")
    status, _, faults = http(
        f"{server}/_sandbox/faults",
        "POST",
        {"action": "CreateAccessEntry", "status": 500, "count": 2, "match": "role/argocd-manager"},
    )
    assert status == 200 and faults[0]["code"] == "ServerException"
    # Another principal does not match; the SDK's own retries would use the count up.
    other = f"arn:aws:iam::{ACCOUNT}:role/other"
    eks.create_access_entry(clusterName="c1", principalArn=other)
    no_retries = boto3.client(
        "eks",
        endpoint_url=server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=botocore.config.Config(retries={"max_attempts": 0, "mode": "standard"}),
    )
    for _ in range(2):
        code, message, status = error_of(no_retries.create_access_entry, clusterName="c1", principalArn=ROLE)
        assert (code, status) == ("ServerException", 500)
        assert "Injected by the sandbox" in message
    assert http(f"{server}/_sandbox/faults")[2] == []
    no_retries.create_access_entry(clusterName="c1", principalArn=ROLE)
    log = http(f"{server}/_sandbox/requests")[2]
    assert [(r["action"], r.get("faulted")) for r in log] == [
        ("CreateAccessEntry", None),
        ("CreateAccessEntry", "ServerException"),
        ("CreateAccessEntry", "ServerException"),
        ("CreateAccessEntry", None),
    ], "the fault routes are not logged; a faulted call is, marked"
    # A delay holds the call and then serves it; a bad fault is refused, saying why.
    http(f"{server}/_sandbox/faults", "POST", {"action": "DescribeCluster", "delay": 0.3})
    started = time.monotonic()
    eks.describe_cluster(name="c1")
    assert time.monotonic() - started >= 0.3
    assert http(f"{server}/_sandbox/faults", "POST", {"action": "X"})[0] == 400
    assert http(f"{server}/_sandbox/faults", "POST", {"action": "X", "status": 200})[0] == 400
    http(f"{server}/_sandbox/faults", "POST", {"action": "ListClusters", "status": 403})
    http(f"{server}/_sandbox/faults/reset", "POST")
    assert http(f"{server}/_sandbox/faults")[2] == []
    eks.list_clusters()
