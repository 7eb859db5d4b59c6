"""Lints every IAM policy `kubectl argocd-eks policy` generates with parliament.

Run by scripts/test (it starts the sandbox and exports ARGOCD_EKS_BIN, the plugin binary
`cargo test` built):
    ARGOCD_EKS_BIN=target/debug/kubectl-argocd_eks "$(scripts/python-env)/bin/python" \
        -m pytest sandbox/tests/test_policy_lint.py

parliament lints identity and resource policies; it has no mode for role trust policies. A
trust policy is the role's resource policy with the role as its implicit resource, so each
trust statement is linted with `"Resource": <the role's ARN>` added (without it parliament
only says MALFORMED: no Resource). Every finding of severity MEDIUM or higher fails the test,
except these, each matched exactly:

- CREDENTIALS_EXPOSURE (community auditor) for sts:AssumeRole / AssumeRoleWithWebIdentity:
  handing Argo CD credentials is what these policies are for.
- IRSA only: UNKNOWN_FEDERATION_SOURCE for the hub's IAM OIDC provider ARN, and
  UNKNOWN_CONDITION_FOR_ACTION for `<issuer>:sub` / `<issuer>:aud` on
  sts:AssumeRoleWithWebIdentity. parliament knows SAML providers and a fixed list of web
  identity providers only; AWS documents exactly this principal and these keys for IRSA.
"""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

import parliament
from parliament import analyze_policy_string, enhance_finding, override_config

HUB = "123456789012"
OTHER = "210987654321"
MANAGEMENT = f"arn:aws:iam::{HUB}:role/argocd-management"
TARGET = f"arn:aws:iam::{OTHER}:role/argocd-deployer"
SEVERITIES = ["INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
OIDC_PROVIDER = re.compile(
    r"arn:aws:iam::\d{12}:oidc-provider/(oidc\.eks\.[a-z0-9-]+\.amazonaws\.com/id/[0-9A-F]+)"
)
SCENARIOS = {
    "direct": [],
    "chained-other-account": ["--role-arn", TARGET],
    "self-assume": ["--role-arn", MANAGEMENT],
    "chained-and-self-assume": ["--role-arn", TARGET, "--role-arn", MANAGEMENT],
}

# The community auditors' severities live in their own config file.
override_config(
    str(Path(parliament.__file__).parent / "community_auditors" / "config_override.yaml")
)


def binary():
    path = os.environ.get("ARGOCD_EKS_BIN")
    if not path:
        pytest.fail(
            "ARGOCD_EKS_BIN is not set: run scripts/test, or set it to the built "
            "kubectl-argocd_eks (e.g. target/debug/kubectl-argocd_eks)"
        )
    if not os.access(path, os.X_OK):
        pytest.fail(f"ARGOCD_EKS_BIN={path} is not an executable: run cargo build first")
    if not os.environ.get("ARGOCD_EKS_SANDBOX_MOTO_URL"):
        pytest.fail('the sandbox environment is not set: scripts/sandbox up; eval "$(scripts/sandbox env)"')
    return path


def policy_json(identity, extra):
    run = subprocess.run(
        [binary(), "policy", "--identity", identity, "-o", "json", *extra],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert run.returncode == 0, f"policy exited {run.returncode}: {run.stderr}"
    return json.loads(run.stdout)


def documents(report):
    """(label, role ARN, document, is trust policy) for every document in the report."""
    for role in report["roles"]:
        yield f"{role['arn']} trust", role["arn"], role["trustPolicy"], True
        for policy in role["permissionPolicies"]:
            yield f"{role['arn']} {policy['name']}", role["arn"], policy["document"], False


def lint(document, role_arn, is_trust):
    doc = json.loads(json.dumps(document))
    if is_trust:
        for statement in doc["Statement"]:
            assert "Resource" not in statement, "a trust policy has no Resource"
            statement["Resource"] = role_arn
    found = analyze_policy_string(json.dumps(doc), include_community_auditors=True)
    return [enhance_finding(f) for f in found.findings]


def expected_gap(finding, identity):
    """Whether a MEDIUM+ finding is one of the exceptions the module docstring lists."""
    if finding.issue == "CREDENTIALS_EXPOSURE":
        return True
    if identity != "irsa":
        return False
    if finding.issue == "UNKNOWN_FEDERATION_SOURCE":
        return OIDC_PROVIDER.fullmatch(str(finding.detail)) is not None
    if finding.issue == "UNKNOWN_CONDITION_FOR_ACTION":
        match = re.fullmatch(
            r"Unknown condition (oidc\.eks\.[a-z0-9-]+\.amazonaws\.com/id/[0-9A-F]+):(sub|aud) "
            r"for action sts:AssumeRoleWithWebIdentity",
            str(finding.detail),
        )
        return match is not None
    return False


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("identity", ["irsa", "pod-identity"])
def test_generated_policies_have_no_medium_or_higher_findings(identity, scenario, capsys):
    report = policy_json(identity, SCENARIOS[scenario])
    assert report["identity"] == identity
    roles = {role["arn"]: role for role in report["roles"]}
    assert MANAGEMENT in roles
    assert (TARGET in roles) == ("chained" in scenario)
    assert roles[MANAGEMENT]["selfAssume"] == ("self-assume" in scenario)
    assert bool(roles[MANAGEMENT]["permissionPolicies"]) == (scenario != "direct")

    failures, minor = [], []
    for label, role_arn, document, is_trust in documents(report):
        text = json.dumps(document)
        assert "*" not in text, f"{label}: a wildcard in {text}"
        for finding in lint(document, role_arn, is_trust):
            line = f"{label}: {finding.severity} {finding.issue} {finding.detail or ''}".rstrip()
            if SEVERITIES.index(finding.severity) < SEVERITIES.index("MEDIUM"):
                minor.append(line)
            elif not expected_gap(finding, identity):
                failures.append(line)
    with capsys.disabled():
        for line in minor:
            print(f"\nparliament ({identity}, {scenario}) {line}")
    assert not failures, "parliament findings:\n" + "\n".join(failures)


def test_the_irsa_exceptions_are_only_for_the_hubs_provider_and_its_keys():
    report = policy_json("irsa", [])
    trust = report["roles"][0]["trustPolicy"]
    provider = report["oidcProvider"]["arn"]
    issuer = OIDC_PROVIDER.fullmatch(provider)
    assert issuer, provider
    statement = trust["Statement"][0]
    assert statement["Principal"] == {"Federated": provider}
    assert set(statement["Condition"]["StringEquals"]) == {
        f"{issuer[1]}:sub",
        f"{issuer[1]}:aud",
    }
    gaps = [
        f.issue
        for f in lint(trust, report["roles"][0]["arn"], True)
        if SEVERITIES.index(f.severity) >= SEVERITIES.index("MEDIUM")
    ]
    assert sorted(gaps) == [
        "CREDENTIALS_EXPOSURE",
        "UNKNOWN_CONDITION_FOR_ACTION",
        "UNKNOWN_CONDITION_FOR_ACTION",
        "UNKNOWN_FEDERATION_SOURCE",
    ]


def test_a_bad_policy_is_caught():
    """The lint is live: a broad permission policy fails it. (parliament does not flag
    `"Principal": "*"` in a trust policy; the wildcard check above covers that.)"""
    bad = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iam:PassRole", "iam:CreateAccessKey"], "Resource": "*"}
        ],
    }
    found = {(f.issue, f.severity) for f in lint(bad, MANAGEMENT, False)}
    assert {("PRIVILEGE_ESCALATION", "HIGH"), ("RESOURCE_STAR", "LOW")} <= found, found
