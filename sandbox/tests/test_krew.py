"""The plugin as krew users get it: the real krew and validate-krew-manifest (scripts/build-tools
builds them from the Go module proxy) accept plugin.yaml and the archive scripts/package makes,
install it into a temporary KREW_ROOT, kubectl finds and runs it, and it uninstalls cleanly.

Packages the dev build `cargo test` already made (scripts/package --profile dev): krew checks
the archive, not how the binary inside was optimised. Needs the sandbox's kubectl (scripts/test).
"""

import functools
import http.server
import os
import shutil
import subprocess
import threading
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = "argocd-eks"
BIN = "kubectl-argocd_eks"


def run(args, env, timeout=600, check=True):
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert done.returncode == 0, f"{' '.join(map(str, args))}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def tools():
    out = subprocess.run(
        [ROOT / "scripts" / "build-tools"], capture_output=True, text=True, check=True
    ).stdout
    return Path(out.strip())


@pytest.fixture(scope="module")
def version():
    return "v" + tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["version"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A loopback HTTP server for the archives (validate-krew-manifest downloads each uri)."""
    directory = tmp_path_factory.mktemp("dist")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield directory, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def env(sandbox_exports, tools, tmp_path_factory):
    """kubectl, krew (as the kubectl-krew plugin) and the validator on PATH, the fresh
    KREW_ROOT's bin first; no other copy of the plugin anywhere on PATH."""
    krew_root = tmp_path_factory.mktemp("krew-root")
    kubectl = shutil.which("kubectl", path=sandbox_exports["PATH"])
    assert kubectl, "no kubectl in the sandbox's PATH"
    path = os.pathsep.join(
        [str(krew_root / "bin"), str(tools), str(Path(kubectl).parent), "/usr/bin", "/bin"]
    )
    environ = {
        "PATH": path,
        "HOME": str(tmp_path_factory.mktemp("home")),
        "KREW_ROOT": str(krew_root),
        "KUBECONFIG": sandbox_exports["KUBECONFIG"],
        "CARGO_HOME": os.environ.get("CARGO_HOME", str(Path.home() / ".cargo")),
        "RUSTUP_HOME": os.environ.get("RUSTUP_HOME", str(Path.home() / ".rustup")),
    }
    return environ


@pytest.fixture(scope="module")
def package(served, version):
    """scripts/package's archive and manifest, with uris on the loopback server."""
    directory, base_url = served
    environ = dict(os.environ)
    run([ROOT / "scripts" / "package", "--profile", "dev", "--dist", directory,
         "--base-url", base_url], environ, timeout=1800)
    archive = directory / f"kubectl-argocd-eks-{version}-linux-amd64.tar.gz"
    manifest = directory / f"{PLUGIN}.yaml"
    assert archive.is_file() and manifest.is_file(), list(directory.iterdir())
    return archive, manifest


def test_plugin_yaml_is_a_valid_manifest(env, tmp_path, version):
    """Structure, names, selectors of all five platforms (the placeholders' sha256 cannot be
    installed; the filled-in copy is, below)."""
    text = (ROOT / "plugin.yaml").read_text()
    assert f"version: {version}\n" in text
    for platform in ("linux-amd64", "linux-arm64", "darwin-amd64", "darwin-arm64", "windows-amd64"):
        assert f"/releases/download/{version}/kubectl-argocd-eks-{version}-{platform}.tar.gz" in text
    assert text.count(f"bin: {BIN}\n") == 4 and text.count(f"bin: {BIN}.exe\n") == 1
    manifest = tmp_path / f"{PLUGIN}.yaml"  # the validator takes the name from the file name
    manifest.write_text(text)
    done = run(["validate-krew-manifest", "-manifest", manifest, "-skip-install"], env)
    assert "structural validation OK" in done.stderr


def test_filled_manifest_installs_on_every_platform_it_lists(env, package):
    """validate-krew-manifest downloads each platform's uri and installs it with krew,
    checking the sha256 and that a LICENSE is among the installed files."""
    _, manifest = package
    done = run(["validate-krew-manifest", "-manifest", manifest], env)
    assert "all 1 spec.platforms installed fine" in done.stderr, done.stderr


def test_install_run_list_uninstall(env, package, version):
    archive, manifest = package
    krew_root = Path(env["KREW_ROOT"])
    done = run(["kubectl", "krew", "install", f"--manifest={manifest}", f"--archive={archive}"], env)
    assert "Installed plugin: argocd-eks" in done.stderr + done.stdout
    assert "Caveats:" in done.stderr + done.stdout  # krew shows what it changes and needs
    link = krew_root / "bin" / BIN
    assert link.is_symlink(), list((krew_root / "bin").iterdir())
    store = krew_root / "store" / PLUGIN / version
    for name in ("LICENSE", "README.md", "completions/kubectl_complete-argocd_eks",
                 "man/kubectl-argocd-eks-add.1", "man/kubectl-argocd-eks.1"):
        assert (store / name).is_file(), name

    help_text = run(["kubectl", "argocd-eks", "add", "--help"], env).stdout
    assert help_text.startswith("Register EKS clusters with Argo CD")
    assert "Usage: kubectl argocd-eks add [OPTIONS] [CLUSTER]..." in help_text
    for heading in ("Target:", "Identity:", "Secret:", "Target access:", "Kubernetes:", "AWS:",
                    "Output:", "Examples:"):
        assert f"\n{heading}\n" in help_text, heading

    listed = run(["kubectl", "plugin", "list"], env)
    assert str(link) in listed.stdout.splitlines(), listed.stdout
    assert "warning" not in (listed.stdout + listed.stderr).lower(), listed.stdout + listed.stderr

    # `uninstall` insists on a plugin index, which `krew update` would clone from GitHub: an
    # empty local git repository is one (the tests need no network).
    subprocess.run(["git", "init", "-q", krew_root / "index" / "default"], check=True)
    done = run(["kubectl", "krew", "uninstall", PLUGIN], env)
    assert "Uninstalled plugin: argocd-eks" in done.stderr + done.stdout
    assert not link.exists() and not link.is_symlink()
    assert not (krew_root / "store" / PLUGIN).exists()
    gone = run(["kubectl", "argocd-eks", "--help"], env, check=False)
    assert gone.returncode != 0
