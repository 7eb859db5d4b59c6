"""`kubectl argocd-eks <TAB>`: kubectl's plugin completion through the committed
`completions/kubectl_complete-argocd_eks` script, answered by the built plugin from the
sandbox's kubeconfig, hub and AWS config.

kubectl (>= 1.26) runs `kubectl_complete-argocd_eks` from PATH for `kubectl __complete
argocd-eks ...`, the request a shell's kubectl completion makes on TAB. Needs the sandbox and
ARGOCD_EKS_BIN (scripts/test sets both).
"""

import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pexpect
import pytest
from conftest import UNSET

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "completions" / "kubectl_complete-argocd_eks"
PLUGIN = "kubectl-argocd_eks"
SUBCOMMANDS = {"add", "list", "remove", "doctor", "policy", "completion"}
NO_FILE_COMPLETION = 4
# A TAB must never feel slow: the plugin answers from local data or one hub call.
TAB_BUDGET_SECONDS = 2.0


@pytest.fixture(scope="module")
def env(sandbox_exports, tmp_path_factory):
    """The sandbox's environment with only the plugin, the script and kubectl on PATH, and a
    cache directory of its own."""
    binary = os.environ.get("ARGOCD_EKS_BIN")
    if not binary or not os.access(binary, os.X_OK):
        pytest.fail("ARGOCD_EKS_BIN must name the built plugin (scripts/test sets it)", pytrace=False)
    bin_dir = tmp_path_factory.mktemp("completion-bin")
    os.symlink(Path(binary).resolve(), bin_dir / PLUGIN)
    shutil.copy(SCRIPT, bin_dir / SCRIPT.name)
    environ = {k: v for k, v in os.environ.items() if k not in UNSET}
    environ.update(sandbox_exports)
    environ["PATH"] = f"{bin_dir}{os.pathsep}{sandbox_exports['PATH']}"
    environ["KUBECTL_ARGOCD_EKS_CACHE_DIR"] = str(tmp_path_factory.mktemp("completion-cache"))
    assert shutil.which("kubectl", path=environ["PATH"])
    return environ


def complete(env, *words):
    """kubectl's answer to TAB after `kubectl argocd-eks WORDS...` (the last word is the one
    being completed): the candidate values, their descriptions, and cobra's directive."""
    started = time.monotonic()
    run = subprocess.run(
        ["kubectl", "__complete", "argocd-eks", *words],
        env=env, capture_output=True, text=True, timeout=30,
    )
    took = time.monotonic() - started
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines and lines[-1].startswith(":"), run.stdout
    candidates = dict(line.partition("\t")[::2] for line in lines[:-1])
    return candidates, int(lines[-1][1:]), took


def kubectl(env, *args):
    run = subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, f"kubectl {' '.join(args)}: {run.stderr}"
    return run.stdout


def test_subcommands(env):
    candidates, directive, took = complete(env, "")
    assert SUBCOMMANDS <= set(candidates), candidates
    assert candidates["add"].startswith("Register EKS clusters")
    assert directive == NO_FILE_COMPLETION
    assert took < TAB_BUDGET_SECONDS, took
    candidates, _, _ = complete(env, "do")
    assert set(candidates) == {"doctor"}


def test_flags_of_a_subcommand(env):
    candidates, _, _ = complete(env, "add", "--id")
    assert set(candidates) == {"--identity"}
    candidates, _, _ = complete(env, "add", "--identity", "")
    assert set(candidates) == {"auto", "irsa", "pod-identity"}


def test_contexts_of_the_kubeconfig(env):
    contexts = set(kubectl(env, "config", "get-contexts", "-o", "name").split())
    assert len(contexts) >= 2, contexts
    candidates, directive, took = complete(env, "add", "--context", "")
    assert set(candidates) == contexts
    assert directive == NO_FILE_COMPLETION
    assert took < TAB_BUDGET_SECONDS, took
    # A global flag completes the same after any subcommand.
    candidates, _, _ = complete(env, "doctor", "--context", "")
    assert set(candidates) == contexts


def test_namespaces_of_the_hub(env):
    namespace = f"t-complete-{uuid.uuid4().hex[:8]}"
    kubectl(env, "create", "namespace", namespace)
    candidates, _, took = complete(env, "list", "--argocd-namespace", "t-complete-")
    assert namespace in candidates, candidates
    assert all(name.startswith("t-complete-") for name in candidates)
    assert took < TAB_BUDGET_SECONDS, took


def test_profiles_and_regions(env):
    config = Path(env["AWS_CONFIG_FILE"]).read_text()
    candidates, _, _ = complete(env, "add", "--profile", "")
    for name in candidates:
        assert f"[profile {name}]" in config or (name == "default" and "[default]" in config)
    candidates, _, _ = complete(env, "add", "--region", "eu-w")
    assert {"eu-west-1", "eu-west-2", "eu-west-3"} <= set(candidates)
    assert all(r.startswith("eu-w") for r in candidates)


def test_registered_clusters_in_argocd(env):
    """`remove <TAB>` offers the clusters registered in Argo CD's namespace."""
    name = f"complete-{uuid.uuid4().hex[:8]}"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": f"eks-{name}",
            "namespace": "argocd",
            "labels": {"argocd.argoproj.io/secret-type": "cluster"},
        },
        "stringData": {
            "name": name,
            "server": "https://example.eks.amazonaws.com",
            "config": json.dumps({"awsAuthConfig": {"clusterName": name}}),
        },
    }
    subprocess.run(
        ["kubectl", "apply", "-f", "-"], input=json.dumps(secret), env=env,
        check=True, capture_output=True, text=True,
    )
    try:
        candidates, _, took = complete(env, "remove", "complete-")
        assert candidates.get(name) == f"Secret eks-{name}", candidates
        assert took < TAB_BUDGET_SECONDS, took
    finally:
        kubectl(env, "-n", "argocd", "delete", "secret", f"eks-{name}")


def test_clusters_of_the_last_discovery_without_aws(env):
    """After the guided `add` listed clusters, `add <TAB>` offers them from the cache; with
    AWS unreachable the answer is the same and still quick (a TAB never calls AWS)."""
    candidates, _, _ = complete(env, "add", "")
    assert "prod-eu" not in candidates  # nothing discovered yet in this cache
    namespace = f"t-complete-{uuid.uuid4().hex[:8]}"
    kubectl(env, "create", "namespace", namespace)
    child = pexpect.spawn(
        "kubectl",
        ["argocd-eks", "add", "--argocd-namespace", namespace,
         "--region", "us-east-1", "--region", "eu-west-1"],
        env={**env, "TERM": "xterm-256color"}, dimensions=(40, 160),
        timeout=30, encoding="utf-8",
    )
    try:
        child.expect("prod-eu")  # the picker shows what discovery found
        child.sendcontrol("c")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    offline = {**env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    candidates, _, took = complete(offline, "add", "")
    assert {"prod-eu", "legacy", "staging", "argocd-hub"} <= set(candidates), candidates
    assert candidates["prod-eu"] == "eu-west-1 123456789012"
    assert took < TAB_BUDGET_SECONDS, took
    candidates, _, _ = complete(offline, "add", "--cluster", "st")
    assert set(candidates) == {"staging"}


def bash_complete(env, words):
    """COMPREPLY of the committed bash script for `kubectl-argocd_eks WORDS` (the last word
    being completed), as bash's programmable completion would call it on TAB."""
    script = ROOT / "completions" / "kubectl-argocd_eks.bash"
    line = " ".join([PLUGIN, *words])
    program = f"""
source {script}
COMP_WORDS=({PLUGIN} {' '.join(f"'{w}'" for w in words)})
COMP_CWORD={len(words)}
COMP_LINE='{line}'
COMP_POINT={len(line)}
COMP_TYPE=9
_clap_complete_kubectl_argocd_eks {PLUGIN} '{words[-1]}' '{words[-2] if len(words) > 1 else PLUGIN}'
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    run = subprocess.run(["bash", "-c", program], env=env, capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    return set(run.stdout.split())


def test_bash_script_completes_through_the_plugin(env):
    """The bash script asks the plugin too: subcommands, then the kubeconfig's contexts."""
    assert {"add", "doctor", "list"} <= bash_complete(env, [""])
    contexts = set(kubectl(env, "config", "get-contexts", "-o", "name").split())
    assert bash_complete(env, ["add", "--context", ""]) == contexts


def test_a_hub_that_never_answers_costs_at_most_the_timeout(env, tmp_path):
    """A hub that accepts the connection and then says nothing: the TAB gives up after the
    plugin's 1.5 s hub timeout instead of hanging."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete in the backlog; nobody ever answers
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "silent",
            "clusters": [{"name": "silent", "cluster": {
                "server": f"https://127.0.0.1:{silent.getsockname()[1]}"}}],
            "contexts": [{"name": "silent", "context": {"cluster": "silent", "user": "u"}}],
            "users": [{"name": "u", "user": {"token": "x"}}],
        }))
        candidates, _, took = complete({**env, "KUBECONFIG": str(kubeconfig)},
                                       "list", "--argocd-namespace", "")
    assert not any(not c.startswith("-") for c in candidates), candidates
    assert took < 3.0, took


def test_other_tools_complete_variable_is_left_alone(env):
    """clap's default variable, COMPLETE, may be set for another program: the plugin runs."""
    run = subprocess.run([PLUGIN, "--version"], env={**env, "COMPLETE": "bash"},
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0 and run.stdout.startswith("kubectl-argocd_eks "), run
