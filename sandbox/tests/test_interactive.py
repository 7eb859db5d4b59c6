"""The guided `kubectl argocd-eks add` flow, typed through a real pseudo-terminal.

With no CLUSTER on the command line and stdin a terminal, `add` discovers clusters, shows a
picker, asks what the flags left out, shows the plan and asks before writing. These tests
run the built plugin through kubectl's plugin lookup in a pty (pexpect), press keys the way a
user would, and check what was written with kubectl and boto3 against the sandbox.

Needs the sandbox (`scripts/sandbox up`) and ARGOCD_EKS_BIN, the built
`kubectl-argocd_eks` (scripts/test exports it after `cargo test`):
    ARGOCD_EKS_BIN=target/debug/kubectl-argocd_eks "$(scripts/python-env)/bin/python" \
        -m pytest -q sandbox/tests/test_interactive.py
The transcript of the IRSA run (ANSI escapes stripped, keys pressed marked `[key: ...]`) goes
to $ARGOCD_EKS_SANDBOX_DIR/interactive-transcript.txt, the pod identity run's to
interactive-transcript-pod-identity.txt (`.failed.txt` when the test failed).
"""

import base64
import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import boto3
import pexpect
import pytest
from conftest import UNSET


HUB = "123456789012"
REGIONS = ("us-east-1", "eu-west-1")
MANAGEMENT = f"arn:aws:iam::{HUB}:role/argocd-management"
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
ARGOCD_SAS = (
    "argocd-application-controller",
    "argocd-server",
    "argocd-applicationset-controller",
)
CLUSTER_SECRET_LABEL = "argocd.argoproj.io/secret-type=cluster"
DEFAULT_ACCESS_POLICY = "AmazonEKSClusterAdminPolicy"
PLUGIN = "kubectl-argocd_eks"

TIMEOUT = 30  # seconds, for every wait on the screen and for the program's exit
ROWS, COLS = 40, 160
# Pause after a prompt has drawn before pressing a key. dialoguer puts the terminal in raw
# mode only while it reads a key; a key that arrives before that is echoed by the tty and
# garbles the screen (it is still read correctly).
SETTLE = 0.1

# dialoguer's ColorfulTheme: "✔" marks a picked item and an answered prompt, whose answer
# follows "·".
CHECK = "\u2714"
DOT = "\u00b7"
KEY_DOWN = "\x1b[B"
KEY_ESC = "\x1b"
KEY_CTRL_C = "\x03"

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
# One row of the cluster picker: mark, name, region, account, version, status.
PICKER_ROW = re.compile(
    r"^\S (?P<name>\S+) +(?P<region>[a-z]{2}(?:-[a-z]+)+-\d) +(?P<account>\d{12}) +\S+ +\S+"
)


def plain(raw: str) -> str:
    """What the terminal showed, without escape sequences; every carriage return a new line."""
    text = ANSI.sub("", raw).replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"\n{3,}", "\n\n", text)


# The picker's cursor row is told apart by colour alone (cyan); the transcript says so in words.
CURSOR_ROW = re.compile("([\u2b1a\u2714]\x1b\\[0m )\x1b\\[36m([^\x1b\r\n]*)\x1b\\[0m(?=\r\n)")
KEY_NAMES = {KEY_DOWN: "Down", " ": "Space", "\r": "Enter", KEY_ESC: "Esc", KEY_CTRL_C: "Ctrl-C"}


def key_label(keys: str) -> str:
    if keys in KEY_NAMES:
        return KEY_NAMES[keys]
    if len(keys) > 1 and keys.endswith("\r"):
        return f'types "{keys[:-1]}", Enter'
    return f'types "{keys}"'


def transcript(command: str, raw: str, keys: list) -> str:
    """The plain screen output with the keys pressed, `[key: ...]`, where they were pressed."""
    pieces, last = [], 0
    for at, label in keys:
        pieces += [raw[last:at], f"\r\n[key: {label}]\r\n"]
        last = at
    pieces.append(raw[last:])
    marked = CURSOR_ROW.sub(r"\1\2   <- cursor (cyan)", "".join(pieces))
    text = re.sub(r"[ \t]+\n", "\n", plain(marked)).strip("\n")
    return f"$ {command}\n{text}\n"


# ---------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def sandbox(sandbox_exports):
    """The sandbox's environment, as `eval "$(scripts/sandbox env)"` gives it."""
    for name in UNSET:
        os.environ.pop(name, None)
    os.environ.update(sandbox_exports)
    return {"dir": Path(sandbox_exports["ARGOCD_EKS_SANDBOX_DIR"])}


@pytest.fixture(scope="session")
def plugin_dir(sandbox, tmp_path_factory):
    """A directory holding only the plugin binary, to put first on PATH for kubectl."""
    given = os.environ.get("ARGOCD_EKS_BIN")
    if not given:
        pytest.fail(
            "ARGOCD_EKS_BIN is not set: point it at the built plugin, e.g. "
            "ARGOCD_EKS_BIN=target/debug/kubectl-argocd_eks after `cargo build` "
            "(scripts/test sets it)",
            pytrace=False,
        )
    binary = Path(given).resolve()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail(
            f"ARGOCD_EKS_BIN={given}: no executable file there; run `cargo build`", pytrace=False
        )
    directory = tmp_path_factory.mktemp("plugins")
    target = directory / PLUGIN
    try:
        os.link(binary, target)  # a later `cargo build` replaces the file, not this inode
    except OSError:  # another file system
        target.symlink_to(binary)
    path = f"{directory}{os.pathsep}{os.environ['PATH']}"
    assert shutil.which(PLUGIN, path=path) == str(target)
    assert shutil.which("kubectl", path=path), "no kubectl on PATH (the sandbox venv has one)"
    return directory


_counter = itertools.count()


@pytest.fixture
def namespace(sandbox):
    """A namespace of this test's own with Argo CD's three service accounts."""
    name = f"t-interactive-{os.getpid()}-{next(_counter)}-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    for sa in ARGOCD_SAS:
        kubectl("-n", name, "create", "serviceaccount", sa)
    return name


# ---------------------------------------------------------------------- helpers


def kubectl(*args: str) -> str:
    run = subprocess.run(["kubectl", *args], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, f"kubectl {' '.join(args)}: {run.stderr}"
    return run.stdout


def kubectl_json(*args: str):
    return json.loads(kubectl(*args, "-o", "json"))


def cluster_secrets(namespace: str) -> list:
    return kubectl_json("-n", namespace, "get", "secrets", "-l", CLUSTER_SECRET_LABEL)["items"]


def irsa_annotations(namespace: str) -> dict:
    return {
        sa: kubectl_json("-n", namespace, "get", "serviceaccount", sa)["metadata"]
        .get("annotations", {})
        .get(IRSA_ANNOTATION)
        for sa in ARGOCD_SAS
    }


def resource_versions(namespace: str) -> list:
    return sorted(
        f"{kind}/{item['metadata']['name']}={item['metadata']['resourceVersion']}"
        for kind in ("secrets", "serviceaccounts")
        for item in kubectl_json("-n", namespace, "get", kind)["items"]
    )


def eks(region: str):
    return boto3.client(
        "eks",
        region_name=region,
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def discoverable_clusters() -> set:
    """(name, region) of every cluster the picker should offer: the caller's account, REGIONS."""
    return {
        (name, region) for region in REGIONS for name in eks(region).list_clusters()["clusters"]
    }


def pod_identity_associations(namespace: str) -> list:
    client = eks("us-east-1")
    found = []
    listed = client.list_pod_identity_associations(clusterName="argocd-hub", namespace=namespace)
    for summary in listed["associations"]:
        association = client.describe_pod_identity_association(
            clusterName="argocd-hub", associationId=summary["associationId"]
        )["association"]
        found.append((association["serviceAccount"], association["roleArn"]))
    return sorted(found)


def decode(value: str) -> str:
    return base64.b64decode(value).decode()


def save_transcript(sandbox, capsys, name: str, term: "Terminal", ok: bool) -> Path:
    """Writes NAME.txt after a passing run, NAME.failed.txt after a failing one."""
    name = f"{name}.txt" if ok else f"{name}.failed.txt"
    path = sandbox["dir"] / name
    partial = path.with_name(f".{name}.{os.getpid()}")
    partial.write_text(transcript(term.command, term.raw, term.keys))
    partial.replace(path)
    with capsys.disabled():
        print(f"\ntranscript: {path}")
    return path


class Terminal:
    """The plugin run through `kubectl argocd-eks ...` in a pseudo-terminal.

    `raw` accumulates everything the program wrote; `expect` searches the plain text of it
    (escapes stripped) from where the last match ended, reading more until the pattern shows
    up, so every wait is on something the user would see.
    """

    def __init__(self, plugin_dir: Path, args: list):
        env = dict(os.environ)
        for name in ("NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "COLUMNS", "LINES"):
            env.pop(name, None)
        env["TERM"] = "xterm-256color"
        env["PATH"] = f"{plugin_dir}{os.pathsep}{env['PATH']}"
        self.command = "kubectl " + shlex.join(args)
        self.child = pexpect.spawn(
            "kubectl",
            args,
            env=env,
            dimensions=(ROWS, COLS),
            timeout=TIMEOUT,
            encoding="utf-8",
            codec_errors="replace",
        )
        self.raw = ""
        self.pos = 0
        self.keys = []  # (offset in raw, label) of every key pressed
        self.eof = False
        self.status = None

    def __enter__(self):
        return self

    def __exit__(self, *_):
        if self.child.isalive():
            self.child.terminate(force=True)
        self.child.close(force=True)

    @property
    def text(self) -> str:
        return plain(self.raw)

    def _read(self, timeout: float) -> None:
        try:
            self.raw += self.child.read_nonblocking(65536, timeout=timeout)
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            self.eof = True

    def _screen(self) -> str:
        tail = self.text[-4000:]
        return f"$ {self.command}\n...\n{tail}"

    def expect(self, pattern, what: str) -> re.Match:
        rx = re.compile(pattern, re.MULTILINE) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + TIMEOUT
        while True:
            match = rx.search(self.text, self.pos)
            if match:
                self.pos = match.end()
                return match
            if self.eof:
                self.wait()
                raise AssertionError(
                    f"the program ended (status {self.status}) before showing {what}\n"
                    + self._screen()
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {what} on the screen after {TIMEOUT}s\n{self._screen()}")
            self._read(min(left, 0.5))

    def press(self, keys: str) -> None:
        """Lets the prompt finish drawing (reading what it writes), then sends `keys`."""
        deadline = time.monotonic() + SETTLE
        while not self.eof and (left := deadline - time.monotonic()) > 0:
            self._read(left)
        self.keys.append((len(self.raw), key_label(keys)))
        self.child.send(keys)

    def wait(self) -> int:
        """Reads to the end and waits for the exit; the status as a shell reports it."""
        deadline = time.monotonic() + TIMEOUT
        while not self.eof:
            if time.monotonic() > deadline:
                raise AssertionError(f"the program did not end within {TIMEOUT}s\n{self._screen()}")
            self._read(0.5)
        while self.child.isalive():
            if time.monotonic() > deadline:
                raise AssertionError(f"the program did not exit in {TIMEOUT}s\n{self._screen()}")
            time.sleep(0.05)
        if self.status is None:
            child = self.child
            killed = child.exitstatus is None
            self.status = 128 + child.signalstatus if killed else child.exitstatus
        return self.status

    # ------------------------------------------------------------------ the prompts

    def answered(self, question: str, what: str) -> str:
        """The answer dialoguer prints once a prompt is done: `✔ <question> · <answer>`."""
        match = self.expect(rf"^{CHECK} {re.escape(question)} {DOT} ?(?P<answer>[^\n]*)\n", what)
        return match["answer"].strip()

    def picker_frame(self, rows: int) -> list:
        """The next complete drawing of the cluster picker's `rows` rows, parsed."""
        frame = self.expect(
            rf"(?:^\S [^\n]* \d{{12}} [^\n]*\n){{{rows}}}", f"the cluster picker's {rows} rows"
        )
        parsed = []
        for line in frame.group(0).splitlines():
            row = PICKER_ROW.match(line)
            assert row, f"not a picker row: {line!r}"
            parsed.append({**row.groupdict(), "checked": line.startswith(CHECK)})
        return parsed

    def pick_clusters(self, name: str) -> list:
        """Moves to cluster `name`, picks it (and nothing else) and accepts; the rows shown."""
        question = "Which clusters should Argo CD manage? (space to pick, enter to accept)"
        self.expect(rf"^\? {re.escape(question)}", "the cluster picker")
        expected = discoverable_clusters()
        rows = self.picker_frame(len(expected))
        assert {(r["name"], r["region"]) for r in rows} == expected, rows
        assert {r["account"] for r in rows} == {HUB}, rows
        assert not any(r["checked"] for r in rows), rows
        index = [r["name"] for r in rows].index(name)
        for _ in range(index):
            self.press(KEY_DOWN)
            self.picker_frame(len(rows))
        self.press(" ")
        checked = [r["name"] for r in self.picker_frame(len(rows)) if r["checked"]]
        assert checked == [name], f"space picked {checked}, not [{name!r}]"
        self.press("\r")
        answer = self.answered(question, "the picker's answer")
        assert answer.split() and answer.split()[0] == name, answer
        assert not any(r["name"] in answer.split() for r in rows if r["name"] != name), answer
        return rows

    def choose(self, question: str, search: str) -> str:
        """Types `search` into a fuzzy-select prompt key by key, and accepts the top match."""
        self.expect(rf"^\? {re.escape(question)}", f"the prompt {question!r}")
        typed = ""
        for key in search:
            typed += key
            self.press(key)
            self.expect(
                rf"^\? {re.escape(question)} \S {re.escape(typed)}",
                f"{typed!r} typed into {question!r}",
            )
        self.press("\r")
        return self.answered(question, f"the answer to {question!r}")

    def accept_default(self, question: str) -> str:
        self.expect(rf"^\? {re.escape(question)}", f"the prompt {question!r}")
        self.press("\r")
        return self.answered(question, f"the answer to {question!r}")

    def type_text(self, question: str, text: str) -> str:
        self.expect(rf"^\? {re.escape(question)}", f"the prompt {question!r}")
        self.press(text + "\r")  # at once, as a paste would
        return self.answered(question, f"the answer to {question!r}")

    def plan(self, cluster_arn: str, identity: str) -> str:
        """The plan, from its heading up to the confirmation prompt (which is then showing)."""
        heading = self.expect(
            rf"^Plan for {re.escape(cluster_arn)} \(identity: {re.escape(identity)}\):\n",
            "the plan",
        )
        start = heading.start()
        confirm = self.expect(r"^\? Apply these changes\? \(y/n\)", "'Apply these changes?'")
        return self.text[start : confirm.start()]


MANAGEMENT_QUESTION = "Management role ARN (the role Argo CD's pods run as)"
TARGET_ROLE_QUESTION = "Target role ARN to assume (empty: direct mode)"
IDENTITY_QUESTION = "How do Argo CD's pods get their AWS identity?"
ACCESS_QUESTION = "Access policy for Argo CD on the target (cluster scope)"


def add(plugin_dir: Path, namespace: str, *extra: str) -> Terminal:
    return Terminal(
        plugin_dir,
        [
            "argocd-eks",
            "add",
            "--region",
            "us-east-1",
            "--region",
            "eu-west-1",
            "--argocd-namespace",
            namespace,
            *extra,
        ],
    )


def describe(name: str, region: str) -> dict:
    return eks(region).describe_cluster(name=name)["cluster"]


def assert_registered(namespace: str, cluster: dict, secret_name: str) -> None:
    secrets = cluster_secrets(namespace)
    assert [s["metadata"]["name"] for s in secrets] == [secret_name]
    data = secrets[0]["data"]
    assert decode(data["name"]) == cluster["arn"]
    assert decode(data["server"]) == cluster["endpoint"].rstrip("/")
    config = json.loads(decode(data["config"]))
    assert config["awsAuthConfig"] == {"clusterName": cluster["name"]}, config  # direct mode
    assert config["tlsClientConfig"]["insecure"] is False


# ---------------------------------------------------------------------- tests


def test_guided_add_with_irsa_registers_the_one_picked_cluster(
    sandbox, plugin_dir, namespace, capsys
):
    cluster = describe("prod-eu", "eu-west-1")
    before = resource_versions(namespace)
    ok = False
    # argocd-management trusts only pods.eks.amazonaws.com: add's check before writing would
    # refuse it for IRSA; this test is about the prompts (tests/add_checks.rs is about the check).
    with add(plugin_dir, namespace, "--identity", "irsa", "--force") as term:
        try:
            rows = term.pick_clusters("prod-eu")
            regions = {r["region"] for r in rows}
            assert regions == set(REGIONS), rows
            assert ("staging", "us-east-1") in {(r["name"], r["region"]) for r in rows}

            # The hub's service accounts have no role yet, so there is no default to offer.
            assert term.type_text(MANAGEMENT_QUESTION, MANAGEMENT) == MANAGEMENT
            assert term.accept_default(TARGET_ROLE_QUESTION) == ""
            assert term.accept_default(ACCESS_QUESTION) == DEFAULT_ACCESS_POLICY

            plan = term.plan(cluster["arn"], "irsa")
            assert re.search(rf"^  \+ create +Secret {re.escape(namespace)}/\S+", plan, re.M), plan
            for sa in ARGOCD_SAS:
                assert re.search(
                    rf"^  \+ create +ServiceAccount {re.escape(namespace)}/{sa} annotation "
                    rf"{re.escape(IRSA_ANNOTATION)} +\(set to {re.escape(MANAGEMENT)}\)",
                    plan,
                    re.M,
                ), plan
            assert f"AccessPolicy {DEFAULT_ACCESS_POLICY} on EKS cluster prod-eu" in plan, plan
            assert resource_versions(namespace) == before, "written before the confirmation"

            term.press("y")
            assert term.answered("Apply these changes?", "the confirmation") == "yes"
            done = term.expect(
                rf"^Registered as Secret {re.escape(namespace)}/(?P<secret>[^:\s]+): ",
                "the outcome",
            )
            assert term.wait() == 0, term.text
            assert f"kubectl -n {namespace} rollout restart" in term.text, term.text
            ok = True
        finally:
            save_transcript(sandbox, capsys, "interactive-transcript", term, ok)

    assert_registered(namespace, cluster, done["secret"])
    assert irsa_annotations(namespace) == {sa: MANAGEMENT for sa in ARGOCD_SAS}


def test_guided_add_asks_the_identity_and_sets_up_pod_identity(
    sandbox, plugin_dir, namespace, capsys
):
    cluster = describe("staging", "us-east-1")
    ok = False
    with add(plugin_dir, namespace) as term:
        try:
            term.pick_clusters("staging")
            answer = term.choose(IDENTITY_QUESTION, "pod-id")
            assert answer.startswith("pod-identity"), answer
            assert term.type_text(MANAGEMENT_QUESTION, MANAGEMENT) == MANAGEMENT
            assert term.accept_default(TARGET_ROLE_QUESTION) == ""
            assert term.accept_default(ACCESS_QUESTION) == DEFAULT_ACCESS_POLICY

            plan = term.plan(cluster["arn"], "pod-identity")
            assert re.search(rf"^  \+ create +Secret {re.escape(namespace)}/\S+", plan, re.M), plan
            for sa in ARGOCD_SAS:
                assert re.search(
                    rf"^  \+ create +PodIdentityAssociation {re.escape(namespace)}/{sa} "
                    rf"on EKS cluster argocd-hub +\(role {re.escape(MANAGEMENT)}\)",
                    plan,
                    re.M,
                ), plan
            assert "ServiceAccount" not in plan, plan

            term.press("y")
            assert term.answered("Apply these changes?", "the confirmation") == "yes"
            done = term.expect(
                rf"^Registered as Secret {re.escape(namespace)}/(?P<secret>[^:\s]+): ",
                "the outcome",
            )
            assert term.wait() == 0, term.text
            ok = True
        finally:
            save_transcript(sandbox, capsys, "interactive-transcript-pod-identity", term, ok)

    assert_registered(namespace, cluster, done["secret"])
    assert irsa_annotations(namespace) == {sa: None for sa in ARGOCD_SAS}
    assert pod_identity_associations(namespace) == sorted((sa, MANAGEMENT) for sa in ARGOCD_SAS)


def test_answering_no_at_the_confirmation_exits_130_and_writes_nothing(plugin_dir, namespace):
    before = resource_versions(namespace)
    cluster = describe("prod-eu", "eu-west-1")
    with add(plugin_dir, namespace) as term:
        term.pick_clusters("prod-eu")
        # No --identity: take whatever the prompt proposes (pod identity: the hub has the agent).
        identity = term.accept_default(IDENTITY_QUESTION).split()[0]
        assert identity in ("pod-identity", "irsa")
        term.type_text(MANAGEMENT_QUESTION, MANAGEMENT)
        term.accept_default(TARGET_ROLE_QUESTION)
        term.accept_default(ACCESS_QUESTION)
        plan = term.plan(cluster["arn"], identity)
        assert "+ create" in plan, plan
        term.press("n")
        assert term.answered("Apply these changes?", "the confirmation") == "no"
        term.expect(r"^error: cancelled: nothing was changed", "the cancellation message")
        assert term.wait() == 130, term.text

    assert resource_versions(namespace) == before
    assert cluster_secrets(namespace) == []
    assert irsa_annotations(namespace) == {sa: None for sa in ARGOCD_SAS}
    assert pod_identity_associations(namespace) == []


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(KEY_ESC, id="esc"),
        pytest.param("q", id="q"),
        pytest.param(KEY_CTRL_C, id="ctrl-c"),
    ],
)
def test_leaving_the_picker_exits_130_and_writes_nothing(plugin_dir, namespace, key):
    before = resource_versions(namespace)
    with add(plugin_dir, namespace, "--identity", "irsa") as term:
        term.expect(r"^\? Which clusters should Argo CD manage\?", "the cluster picker")
        term.picker_frame(len(discoverable_clusters()))
        term.press(key)
        status = term.wait()
        if key == KEY_CTRL_C:
            # The tool catches it: the cursor the prompt hid is shown again, exit 130.
            # The handler or the interrupted read, whichever comes first, ends it.
            assert "interrupted" in term.text or "cancelled" in term.text, term.text
            assert term.child.exitstatus == 130, term.text
            assert term.raw.rfind("\x1b[?25h") > term.raw.rfind("\x1b[?25l"), repr(term.raw[-200:])
        else:
            assert "error: cancelled: nothing was changed" in term.text, term.text
            assert term.child.exitstatus == 130, term.text
        assert status == 130, term.text
        assert "Plan for" not in term.text, term.text

    assert resource_versions(namespace) == before
    assert cluster_secrets(namespace) == []
