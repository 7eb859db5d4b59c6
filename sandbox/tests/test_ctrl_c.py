"""Ctrl-C in the guided `kubectl argocd-eks add`, through a real pseudo-terminal: at each
prompt it ends the run with exit code 130 and nothing written; during the writes it stops
after the write in flight, lists what was written and what was not, exits 130, and the same
command run again finishes the job.

Runs like test_interactive.py (the sandbox up, ARGOCD_EKS_BIN the built plugin); the writes
are slowed with the moto extension's delay fault (sandbox/moto_eks_ext/faults.py) so the
Ctrl-C lands while one is in flight.
"""

import json
import os
import re
import subprocess
import time
import urllib.request

import pytest
from test_interactive import (  # noqa: F401 - fixtures, used by name
    ACCESS_QUESTION,
    ARGOCD_SAS,
    IDENTITY_QUESTION,
    KEY_CTRL_C,
    MANAGEMENT,
    MANAGEMENT_QUESTION,
    TARGET_ROLE_QUESTION,
    add,
    cluster_secrets,
    enter_role,
    irsa_annotations,
    namespace,
    plugin_dir,
    pod_identity_associations,
    resource_versions,
    sandbox,
)


def moto(path: str, body: dict | None = None):
    request = urllib.request.Request(
        os.environ["AWS_ENDPOINT_URL"] + path,
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def writes_since(start: int) -> list:
    """Calls that change something in moto's request log after entry `start`."""
    reads = ("Get", "List", "Describe", "AssumeRole")
    return [
        f"{r['method']} {r['action']}"
        for r in moto("/_sandbox/requests")[start:]
        if r.get("action") and not r["action"].startswith(reads)
    ]


def assert_interrupted_at_a_prompt(term) -> None:
    status = term.wait()
    assert status == 130, term.text
    assert term.child.exitstatus == 130, term.text  # its own exit, not killed by the signal
    assert "cancelled: nothing was changed" in term.text or "interrupted" in term.text, term.text
    assert "Plan for" not in term.text or "Apply these changes?" in term.text, term.text
    # The prompt hid the cursor; it is shown again.
    assert term.raw.rfind("\x1b[?25h") > term.raw.rfind("\x1b[?25l"), repr(term.raw[-200:])


def walk_to(term, prompt: str) -> None:
    """Answers the guided prompts (prod-eu, pod identity, argocd-management, direct mode, the
    default policy) until `prompt` shows, and stops there."""
    term.pick_clusters("prod-eu")
    steps = [
        (IDENTITY_QUESTION, lambda: term.accept_default(IDENTITY_QUESTION)),
        (MANAGEMENT_QUESTION, lambda: enter_role(term, MANAGEMENT)),
        (TARGET_ROLE_QUESTION, lambda: term.accept_default(TARGET_ROLE_QUESTION)),
        (ACCESS_QUESTION, lambda: term.accept_default(ACCESS_QUESTION)),
    ]
    for question, answer in steps:
        if question == prompt:
            term.expect(rf"^\? {re.escape(question)}", f"the prompt {question!r}")
            return
        answer()
    assert prompt == "confirm", prompt
    term.expect(r"^\? Apply these changes\? \(y/N\)", "'Apply these changes?'")


@pytest.mark.parametrize(
    "prompt",
    [IDENTITY_QUESTION, MANAGEMENT_QUESTION, TARGET_ROLE_QUESTION, ACCESS_QUESTION, "confirm"],
    ids=["identity", "management-role", "target-role", "access-policy", "confirmation"],
)
def test_ctrl_c_at_each_prompt_exits_130_and_writes_nothing(plugin_dir, namespace, prompt):
    before = resource_versions(namespace)
    start = len(moto("/_sandbox/requests"))
    with add(plugin_dir, namespace) as term:
        walk_to(term, prompt)
        term.press(KEY_CTRL_C)
        assert_interrupted_at_a_prompt(term)
    assert writes_since(start) == []
    assert resource_versions(namespace) == before
    assert cluster_secrets(namespace) == []
    assert pod_identity_associations(namespace) == []


def test_ctrl_c_while_writing_stops_after_the_write_in_flight_and_a_rerun_finishes(
    plugin_dir, namespace
):
    # Each association is held 2 s: Ctrl-C lands while the first one is in flight.
    start = len(moto("/_sandbox/requests"))
    moto(
        "/_sandbox/faults",
        {"action": "CreatePodIdentityAssociation", "delay": 2, "count": 3, "match": namespace},
    )
    try:
        with add(plugin_dir, namespace, "--identity", "pod-identity") as term:
            term.pick_clusters("prod-eu")
            enter_role(term, MANAGEMENT)
            term.accept_default(TARGET_ROLE_QUESTION)
            term.accept_default(ACCESS_QUESTION)
            term.confirm("y")
            # Until the first association call has reached moto (and is being held).
            deadline = time.monotonic() + 20
            while not any(
                r.get("action") == "CreatePodIdentityAssociation"
                for r in moto("/_sandbox/requests")[start:]
            ):
                assert time.monotonic() < deadline, term.text
                time.sleep(0.05)
            term.press(KEY_CTRL_C)
            term.expect(r"interrupted: stopping after the write in progress", "the interruption noted")
            term.expect(r"^Stopped part way: 1 write\(s\) done, 0 failed, \d+ not done:", "the steps")
            term.expect(r"^  done +create PodIdentityAssociation", "the association done")
            term.expect(r"^  not done +create PodIdentityAssociation", "the next one not done")
            term.expect(r"^error: interrupted \(Ctrl-C\) before the next write", "the error")
            assert term.wait() == 130, term.text
            assert term.child.exitstatus == 130, term.text
    finally:
        moto("/_sandbox/faults/reset", {})
    # What it said it did is what is there: one association, no Secret yet.
    assert len(pod_identity_associations(namespace)) == 1
    assert cluster_secrets(namespace) == []

    # The same command again (no prompts now) finishes the job, with no duplicate.
    rerun = subprocess.run(
        [
            os.environ["ARGOCD_EKS_BIN"],
            "add",
            "prod-eu",
            "--region",
            "eu-west-1",
            "--argocd-namespace",
            namespace,
            "--identity",
            "pod-identity",
            "--management-role-arn",
            MANAGEMENT,
            "--yes",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert pod_identity_associations(namespace) == sorted((sa, MANAGEMENT) for sa in ARGOCD_SAS)
    assert len(cluster_secrets(namespace)) == 1
    assert irsa_annotations(namespace) == {sa: None for sa in ARGOCD_SAS}
