"""The guided `add` from nothing to a working registration, in an 80x24 pseudo-terminal.

1. From an account with no Argo CD role at all: Enter at every default (the role is created
   through `policy --create`'s plan and confirmation) and `y` at each confirmation, then the
   doctor command the next steps print passes.
2. With 500 clusters: typing part of a name (and a tag) narrows the picker to one, which is
   registered; no prompt line fills the 80 columns (nothing wraps).
3. The picker is drawn before every cluster is described: with one DescribeCluster held back
   (the sandbox's fault route), its row shows `…` and fills in without a key press; it is then
   picked. An error of that DescribeCluster while the picker is open ends the run with the
   error, the terminal out of raw mode.

Needs the sandbox and ARGOCD_EKS_BIN, as test_interactive.py (whose helpers these use).
Transcripts (the screen before each key) go to $ARGOCD_EKS_SANDBOX_DIR/guided-*.txt.
"""

import json
import os
import re
import subprocess
import time
import urllib.parse
import urllib.request
import uuid

import boto3
import pytest
from test_interactive import (  # noqa: F401 (fixtures)
    ACCESS_QUESTION,
    KEY_CTRL_C,
    DEFAULT_ACCESS_POLICY,
    HUB,
    IDENTITY_QUESTION,
    MANAGEMENT,
    MANAGEMENT_QUESTION,
    TARGET_ROLE_QUESTION,
    Terminal,
    assert_registered,
    describe,
    namespace,
    plugin_dir,
    pod_identity_associations,
    sandbox,
    save_transcript,
)

FLEET_REGION = "ap-south-1"  # no other test has clusters there
FLEET = [f"fleet-{i:03d}" for i in range(500)]


def iam():
    return boto3.client(
        "iam",
        region_name="us-east-1",
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def sandbox_post(path: str, body: dict) -> dict:
    request = urllib.request.Request(
        os.environ["AWS_ENDPOINT_URL"] + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=60) as response:
        return json.loads(response.read())


def argocd_roles(client) -> list:
    """Roles of the hub's account an Argo CD could use: trusting pod identity, an OIDC
    provider, or another role (a target role)."""
    found = []
    for page in client.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            trust = role["AssumeRolePolicyDocument"]
            text = trust if isinstance(trust, str) else json.dumps(trust)
            text = urllib.parse.unquote(text)
            if any(k in text for k in ("pods.eks.amazonaws.com", "oidc-provider", ":role/")):
                found.append(role["RoleName"])
    return found


def delete_role(client, name: str) -> None:
    for policy in client.list_role_policies(RoleName=name)["PolicyNames"]:
        client.delete_role_policy(RoleName=name, PolicyName=policy)
    for policy in client.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        client.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
    client.delete_role(RoleName=name)


@pytest.fixture
def no_argocd_roles(sandbox):
    """The hub's account without any role an Argo CD could use (they are put back after)."""
    client = iam()
    saved = []
    for name in argocd_roles(client):
        role = client.get_role(RoleName=name)["Role"]
        inline = {
            p: client.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
            for p in client.list_role_policies(RoleName=name)["PolicyNames"]
        }
        attached = [
            p["PolicyArn"]
            for p in client.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        ]
        saved.append((role, inline, attached))
        delete_role(client, name)
    assert argocd_roles(client) == []
    yield
    for name in argocd_roles(client):  # what the test made
        delete_role(client, name)
    for role, inline, attached in saved:
        trust = role["AssumeRolePolicyDocument"]
        client.create_role(
            RoleName=role["RoleName"],
            Path=role.get("Path", "/"),
            AssumeRolePolicyDocument=trust if isinstance(trust, str) else json.dumps(trust),
            Description=role.get("Description", ""),
        )
        for policy, document in inline.items():
            text = document if isinstance(document, str) else json.dumps(document)
            client.put_role_policy(RoleName=role["RoleName"], PolicyName=policy, PolicyDocument=text)
        for arn in attached:
            client.attach_role_policy(RoleName=role["RoleName"], PolicyArn=arn)


@pytest.fixture
def fleet(sandbox):
    """500 clusters in a region of their own (tag team=t<i mod 7>), deleted after."""
    started = time.monotonic()
    for i in range(7):
        names = [name for n, name in enumerate(FLEET) if n % 7 == i]
        made = sandbox_post(
            "/_sandbox/eks/clusters",
            {"account": HUB, "region": FLEET_REGION, "names": names, "tags": {"team": f"t{i}"}},
        )
        assert len(made["done"]) == len(names), made
    assert time.monotonic() - started < 30
    yield FLEET
    sandbox_post(
        "/_sandbox/eks/clusters",
        {"account": HUB, "region": FLEET_REGION, "names": FLEET, "delete": True},
    )


def assert_no_prompt_wrapped(term: Terminal) -> None:
    """On every screen the user saw, no line from the open question down fills the width."""
    for label, screen in term.screens:
        lines = screen.split("\n")
        starts = [i for i, line in enumerate(lines) if line.startswith("? ")]
        for line in lines[starts[-1] :] if starts else []:
            assert len(line) < term.cols, f"a prompt line wraps before [{label}]:\n{screen}"


def test_from_an_account_without_roles_enter_at_every_default_ends_with_doctor_passing(
    sandbox, plugin_dir, namespace, no_argocd_roles, capsys
):
    cluster = describe("staging", "us-east-1")
    args = ["argocd-eks", "add", "--region", "us-east-1", "--region", "eu-west-1"]
    args += ["--argocd-namespace", namespace]
    ok = False
    with Terminal(plugin_dir, args, rows=24, cols=80) as term:
        try:
            term.pick_clusters("staging")
            assert term.accept_default(IDENTITY_QUESTION).startswith("pod-identity")
            # No role fits, so Enter creates one: policy --create's plan, then its question.
            assert term.accept_default(MANAGEMENT_QUESTION).startswith(
                "create a new role argocd-m"
            )
            term.expect(
                rf"^  \+ create +role {MANAGEMENT} trust policy", "policy --create's plan"
            )
            assert term.confirm("y") == "Yes"
            term.expect(r"^Applied and read back: 1 created, 0 updated", "the role made")
            assert term.accept_default(TARGET_ROLE_QUESTION).startswith("none: direct")
            assert DEFAULT_ACCESS_POLICY.startswith(
                term.accept_default(ACCESS_QUESTION).rstrip("\u2026")
            )
            plan = term.plan(cluster["arn"], "pod-identity")
            assert f"(role {MANAGEMENT})" in plan, plan
            assert re.search(r"^Checks before writing .*: \d+ ok, 0 failed, 0 cannot tell", plan, re.M)
            assert term.confirm("y") == "Yes"
            done = term.expect(
                rf"^Registered as Secret {namespace}/(?P<secret>[^:\s]+): ", "the outcome"
            )
            doctor = term.expect(r"^ +kubectl argocd-eks (?P<args>doctor [^\n]+)\n", "doctor")
            assert term.wait() == 0, term.text
            assert_no_prompt_wrapped(term)
            ok = True
        finally:
            save_transcript(sandbox, capsys, "guided-from-nothing", term, ok)

    assert_registered(namespace, cluster, done["secret"])
    assert pod_identity_associations(namespace) == sorted(
        (sa, MANAGEMENT) for sa in ("argocd-application-controller", "argocd-server", "argocd-applicationset-controller")
    )
    run = subprocess.run(
        [os.environ["ARGOCD_EKS_BIN"], *doctor["args"].split()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "FAIL" not in run.stdout and " ok " in f" {run.stdout}", run.stdout


def test_with_500_clusters_typing_narrows_the_picker_to_the_one_registered(
    sandbox, plugin_dir, namespace, fleet, capsys
):
    cluster = describe("fleet-423", FLEET_REGION)
    args = ["argocd-eks", "add", "--region", FLEET_REGION, "--argocd-namespace", namespace]
    args += ["--identity", "pod-identity", "--management-role-arn", MANAGEMENT]
    ok = False
    started = time.monotonic()
    with Terminal(plugin_dir, args, rows=24, cols=80) as term:
        try:
            question = "Which clusters should Argo CD manage?"
            term.until(lambda ls: any(l.startswith(f"? {question}") for l in ls), "the picker")
            rows = term.picker(lambda rows: len(rows) == 24 - 5, "a screenful of rows")
            assert {r["name"] for r in rows} <= set(fleet), rows
            shown = time.monotonic() - started
            term.assert_no_wrap()
            # Part of the name: ten rows; and a tag (a comma: both; space would pick): one.
            for key in "fleet-42":
                term.press(key)
            rows = term.picker(lambda rows: len(rows) == 10, "fleet-420..429")
            assert [r["name"] for r in rows] == [f"fleet-42{i}" for i in range(10)], rows
            term.filter_to(",team=t3", "fleet-423")
            term.press(" ")
            term.picker(lambda rows: rows[0]["checked"], "fleet-423 picked")
            term.press("\r")
            assert term.answered(question, "the picker's answer") == "fleet-423"
            assert term.accept_default(TARGET_ROLE_QUESTION).startswith("none: direct")
            term.accept_default(ACCESS_QUESTION)
            term.plan(cluster["arn"], "pod-identity")
            assert term.confirm("y") == "Yes"
            done = term.expect(
                rf"^Registered as Secret {namespace}/(?P<secret>[^:\s]+): ", "the outcome"
            )
            assert term.wait() == 0, term.text
            assert_no_prompt_wrapped(term)
            ok = True
        finally:
            save_transcript(sandbox, capsys, "guided-500-clusters", term, ok)
    with capsys.disabled():
        print(f"\n500 clusters: picker shown after {shown:.1f}s, run {time.monotonic() - started:.1f}s")
    assert_registered(namespace, cluster, done["secret"])


LIVE_REGION = "sa-east-1"  # no other test has clusters there


@pytest.fixture
def held(sandbox):
    """Two clusters of their own in LIVE_REGION: (the one whose DescribeCluster a test holds
    back, the other); deleted after, with any fault left."""
    suffix = uuid.uuid4().hex[:8]
    names = [f"held-{suffix}", f"quick-{suffix}"]
    sandbox_post("/_sandbox/faults/reset", {})
    made = sandbox_post("/_sandbox/eks/clusters", {"account": HUB, "region": LIVE_REGION, "names": names})
    assert len(made["done"]) == 2, made
    yield names
    sandbox_post("/_sandbox/faults/reset", {})
    sandbox_post("/_sandbox/eks/clusters", {"account": HUB, "region": LIVE_REGION, "names": names, "delete": True})


def live_args(namespace: str) -> list:
    return ["argocd-eks", "add", "--region", LIVE_REGION, "--argocd-namespace", namespace,
            "--identity", "irsa", "--management-role-arn", MANAGEMENT]


def test_the_picker_is_drawn_before_every_cluster_is_described_and_a_row_fills_in_by_itself(
    sandbox, plugin_dir, namespace, held, capsys
):
    name, other = held
    hold = 4  # seconds DescribeCluster of `name` is held back
    sandbox_post("/_sandbox/faults", {"action": "DescribeCluster", "match": f"/clusters/{name}", "delay": hold})
    question = "Which clusters should Argo CD manage?"
    ok = False
    with Terminal(plugin_dir, live_args(namespace), rows=24, cols=80) as term:
        try:
            started = time.monotonic()
            first = term.picker(lambda rows: {r["name"] for r in rows} == {name, other}, "the picker")
            drawn = time.monotonic() - started
            assert "\u2026" in next(r for r in first if r["name"] == name)["line"], first
            assert drawn < hold, f"the picker was drawn after {drawn:.1f}s, not before the describe"
            assert any("still being described" in line for line in term.lines()), term.screen_text()
            # The other fills in (no key pressed) while the held describe waits.
            term.picker(
                lambda rows: all(("\u2026" in r["line"]) == (r["name"] == name) for r in rows),
                "every row but the held one's filled in",
            )
            term.picker(
                lambda rows: all("\u2026" not in r["line"] and "ACTIVE" in r["line"] for r in rows),
                f"{name} filled in",
            )
            assert term.keys == [], "a key was pressed before the row filled in"
            assert not any("still being described" in line for line in term.lines()), term.screen_text()
            assert time.monotonic() - started >= hold - 0.5
            term.filter_to(name, name)
            term.press(" ")
            term.picker(lambda rows: [(r["name"], r["checked"]) for r in rows] == [(name, True)], f"{name} picked")
            term.press("\r")
            assert term.answered(question, "the picker's answer") == name
            term.until(lambda lines: not term.picker_rows(lines), "the picker gone")
            assert_no_prompt_wrapped(term)
            # Enough: the rest of the questions are test_interactive's.
            term._question(TARGET_ROLE_QUESTION)
            term.press(KEY_CTRL_C)
            assert term.wait() == 130, term.text
            ok = True
        finally:
            save_transcript(sandbox, capsys, "guided-live-rows", term, ok)


def test_an_error_of_discovery_while_the_picker_is_open_ends_it_and_the_terminal_is_restored(
    sandbox, plugin_dir, namespace, held, capsys
):
    import termios

    name, other = held
    sandbox_post(
        "/_sandbox/faults",
        {"action": "DescribeCluster", "match": f"/clusters/{name}", "delay": 2, "status": 400},
    )
    ok = False
    with Terminal(plugin_dir, live_args(namespace), rows=24, cols=80) as term:
        try:
            term.picker(lambda rows: {r["name"] for r in rows} == {name, other}, "the picker")
            term.expect(r"^error: .*DescribeCluster", "discovery's error")
            status = term.wait()
            assert status not in (0, 130), term.text
            # The picker is gone, and the key thread's raw mode with it.
            assert not term.picker_rows(term.lines()), term.screen_text()
            lflag = termios.tcgetattr(term.child.child_fd)[3]
            assert lflag & termios.ECHO and lflag & termios.ICANON, "the terminal was left in raw mode"
            ok = True
        finally:
            save_transcript(sandbox, capsys, "guided-live-error", term, ok)
