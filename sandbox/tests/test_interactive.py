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
import termios
import time
import uuid
from pathlib import Path

import boto3
import pexpect
import pyte
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
# Pause after a prompt has drawn before pressing a key, so a key is not read before the
# prompt that should get it is drawn.
SETTLE = 0.1

# The prompts (inquire): "✔" marks an answered question, followed by its answer; a list row
# is "> [x] ..." at the cursor, "  [ ] ..." elsewhere.
CHECK = "\u2714"
KEY_DOWN = "\x1b[B"
KEY_ESC = "\x1b"
KEY_CTRL_C = "\x03"

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
# One row of the cluster picker: cursor (or ^ v: more above, below), checkbox, name, region, account, version, status.
PICKER_ROW = re.compile(
    r"^(?P<cursor>[> ^v]) \[(?P<box>[ x])\] (?P<name>\S+) +(?P<region>[a-z]{2}(?:-[a-z]+)+-\d) "
    r"+(?P<account>\d{12}) +\S+ +\S+"
)


def plain(raw: str) -> str:
    """What the terminal showed, without escape sequences; every carriage return a new line."""
    text = ANSI.sub("", raw).replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"\n{3,}", "\n\n", text)


KEY_NAMES = {KEY_DOWN: "Down", " ": "Space", "\r": "Enter", KEY_ESC: "Esc", KEY_CTRL_C: "Ctrl-C"}


def key_label(keys: str) -> str:
    if keys in KEY_NAMES:
        return KEY_NAMES[keys]
    if len(keys) > 1 and keys.endswith("\r"):
        return f'types "{keys[:-1]}", Enter'
    return f'types "{keys}"'


def transcript(command: str, screens: list, last: str) -> str:
    """What the terminal showed before each key, the key as `[key: ...]`, then the last screen."""
    pieces = [f"$ {command}"]
    for label, screen in screens:
        pieces += [screen, f"[key: {label}]"]
    pieces.append(last)
    return "\n".join(pieces) + "\n"


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
    partial.write_text(transcript(term.command, term.screens, term.screen_text()))
    partial.replace(path)
    with capsys.disabled():
        print(f"\ntranscript: {path}")
    return path


class Terminal:
    """The plugin run through `kubectl argocd-eks ...` in a pseudo-terminal.

    `raw` accumulates everything the program wrote, and a VT100 screen (pyte) of the pty's
    size shows what the user sees: the prompts redraw only what changed, so list rows are read
    from the screen. `expect` searches the plain text of `raw` (escapes stripped) from where the
    last match ended, for what is printed once (answers, the plan, the outcome).
    """

    def __init__(self, plugin_dir: Path, args: list, rows: int = ROWS, cols: int = COLS):
        env = dict(os.environ)
        for name in ("NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "COLUMNS", "LINES"):
            env.pop(name, None)
        env["TERM"] = "xterm-256color"
        env["PATH"] = f"{plugin_dir}{os.pathsep}{env['PATH']}"
        self.command = "kubectl " + shlex.join(args)
        self.rows, self.cols = rows, cols
        self.child = pexpect.spawn(
            "kubectl",
            args,
            env=env,
            dimensions=(rows, cols),
            timeout=TIMEOUT,
            encoding="utf-8",
            codec_errors="replace",
        )
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.Stream(self.screen)
        self.raw = ""
        self.pos = 0
        self.keys = []  # (offset in raw, label) of every key pressed
        self.screens = []  # (label, screen text) before every key pressed
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
            chunk = self.child.read_nonblocking(65536, timeout=timeout)
        except pexpect.TIMEOUT:
            return
        except pexpect.EOF:
            self.eof = True
            return
        self.raw += chunk
        self.stream.feed(chunk)

    def lines(self) -> list:
        """The screen's lines as the user sees them, trailing blanks cut."""
        return [line.rstrip() for line in self.screen.display]

    def screen_text(self) -> str:
        lines = self.lines()
        while lines and not lines[-1]:
            lines.pop()
        return "\n".join(lines)

    def _screen(self) -> str:
        return f"$ {self.command}\n--- screen ---\n{self.screen_text()}\n--- end ---"

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

    def until(self, check, what: str):
        """Reads until `check(lines)` gives something true (the screen shows it); returns it."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            found = check(self.lines())
            if found:
                return found
            if self.eof:
                raise AssertionError(f"the program ended before the screen showed {what}\n{self._screen()}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"the screen did not show {what} in {TIMEOUT}s\n{self._screen()}")
            self._read(min(left, 0.2))

    def press(self, keys: str) -> None:
        """Lets the prompt finish drawing (reading what it writes), then sends `keys`."""
        deadline = time.monotonic() + SETTLE
        while not self.eof and (left := deadline - time.monotonic()) > 0:
            self._read(left)
        label = key_label(keys)
        self.screens.append((label, self.screen_text()))
        self.keys.append((len(self.raw), label))
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

    def prompt_lines(self) -> list:
        """The screen from the open question ("? ...") down."""
        lines = self.lines()
        starts = [i for i, line in enumerate(lines) if line.startswith("? ")]
        return lines[starts[-1] :] if starts else []

    def assert_no_wrap(self) -> None:
        """No line of the open prompt reaches the last column: nothing of it wrapped."""
        for line in self.prompt_lines():
            assert len(line) < self.cols, f"a prompt line fills the width (wraps):\n{self._screen()}"

    def answered(self, question: str, what: str) -> str:
        """The answer printed once a prompt is done: `✔ <question> <answer>`."""
        match = self.expect(rf"^{CHECK} {re.escape(question)} ?(?P<answer>[^\n]*)\n", what)
        return match["answer"].strip()

    def picker_rows(self, lines: list) -> list:
        return [
            {**row.groupdict(), "checked": row["box"] == "x", "line": line}
            for line in lines
            if (row := PICKER_ROW.match(line))
        ]

    def picker(self, check, what: str) -> list:
        """The picker's rows once `check(rows)` holds for them."""
        def shown(lines):
            rows = self.picker_rows(lines)
            return rows if rows and check(rows) else None

        return self.until(shown, what)

    def filter_to(self, typed: str, name: str) -> list:
        """Types `typed` into the picker key by key; the one row left must be `name`."""
        for key in typed:
            self.press(key)
        rows = self.picker(lambda rows: [r["name"] for r in rows] == [name], f"only {name} after typing {typed!r}")
        self.assert_no_wrap()
        return rows

    def pick_clusters(self, name: str, expected: set = None) -> list:
        """Filters the picker to cluster `name` by typing it, picks it and accepts; the rows
        first shown (all of them, or a screenful)."""
        question = "Which clusters should Argo CD manage?"
        self.until(lambda lines: any(l.startswith(f"? {question}") for l in lines), "the cluster picker")
        expected = discoverable_clusters() if expected is None else expected
        page = min(len(expected), self.rows - 5)
        rows = self.picker(lambda rows: len(rows) == page, f"{page} picker rows")
        # A name too long for the terminal is cut with "…".
        def known(row):
            name, region = row["name"], row["region"]
            if name.endswith("\u2026"):
                return any(n.startswith(name[:-1]) and r == region for n, r in expected)
            return (name, region) in expected

        assert all(known(r) for r in rows), rows
        assert {r["account"] for r in rows} == {HUB}, rows
        assert not any(r["checked"] for r in rows), rows
        self.assert_no_wrap()
        self.filter_to(name, name)
        self.press(" ")
        self.picker(lambda rows: [(r["name"], r["checked"]) for r in rows] == [(name, True)], f"{name} picked")
        self.press("\r")
        answer = self.answered(question, "the picker's answer")
        assert answer == name, answer
        # Nothing of the list is left on the screen.
        self.until(lambda lines: not self.picker_rows(lines), "the picker gone")
        return rows

    def _question(self, question: str) -> None:
        self.until(
            lambda lines: any(l.startswith(f"? {question}") for l in lines), f"the prompt {question!r}"
        )
        self.assert_no_wrap()

    def choose(self, question: str, search: str) -> str:
        """Types `search` into a select prompt, and accepts the top match."""
        self._question(question)
        for key in search:
            self.press(key)
        self.until(
            lambda lines: any(l.startswith(f"? {question} {search}") for l in lines),
            f"{search!r} typed into {question!r}",
        )
        self.press("\r")
        return self.answered(question, f"the answer to {question!r}")

    def accept_default(self, question: str) -> str:
        self._question(question)
        self.press("\r")
        return self.answered(question, f"the answer to {question!r}")

    def type_text(self, question: str, text: str) -> str:
        self._question(question)
        self.press(text + "\r")  # at once, as a paste would
        return self.answered(question, f"the answer to {question!r}")

    def confirm(self, key: str, question: str = "Apply these changes?") -> str:
        """Answers a yes/no question with `key` (y or n) and Enter."""
        self._question(question)
        self.press(key + "\r")
        return self.answered(question, f"the answer to {question!r}")

    def plan(self, cluster_arn: str, identity: str) -> str:
        """The plan, from its heading up to the confirmation prompt (which is then showing)."""
        heading = self.expect(
            rf"^Plan for {re.escape(cluster_arn)} \(identity: {re.escape(identity)}\):\n",
            "the plan",
        )
        start = heading.start()
        confirm = self.expect(r"^\? Apply these changes\? \(y/N\)", "'Apply these changes?'")
        return self.text[start : confirm.start()]


MANAGEMENT_QUESTION = "Management role (the role Argo CD's pods run as)"
TARGET_ROLE_QUESTION = "Target role to assume in the cluster's account (chained mode)"
ROLE_ARN_QUESTION = "Role ARN"
IDENTITY_QUESTION = "How do Argo CD's pods get their AWS identity?"
ACCESS_QUESTION = "Access policy for Argo CD on the target (cluster scope)"


def enter_role(term: Terminal, arn: str) -> None:
    """At the management role question: "enter a role ARN", then the ARN."""
    assert term.choose(MANAGEMENT_QUESTION, "enter") == "enter a role ARN"
    assert term.type_text(ROLE_ARN_QUESTION, arn) == arn


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
            assert {r["region"] for r in rows} <= set(REGIONS), rows

            # No role's trust names this namespace's service accounts for IRSA: type one in.
            assert term.choose(MANAGEMENT_QUESTION, "enter") == "enter a role ARN"
            # A mistyped ARN is asked again, the reason shown and the text kept for editing.
            typo = MANAGEMENT[: MANAGEMENT.index(":role/") + 4]
            term._question(ROLE_ARN_QUESTION)
            term.press(typo + "\r")
            term.until(
                lambda lines: any(l.startswith("# ") and "e.g. arn:aws:iam::" in l for l in lines),
                "the reason the ARN was refused",
            )
            term.until(
                lambda lines: any(l.startswith(f"? {ROLE_ARN_QUESTION} {typo}") for l in lines),
                "the typed text kept",
            )
            term.press(MANAGEMENT[len(typo) :] + "\r")
            assert term.answered(ROLE_ARN_QUESTION, "the ARN") == MANAGEMENT
            assert term.accept_default(TARGET_ROLE_QUESTION).startswith("none: direct mode")
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

            assert term.confirm("y") == "Yes"
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
            enter_role(term, MANAGEMENT)
            assert term.accept_default(TARGET_ROLE_QUESTION).startswith("none: direct mode")
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

            assert term.confirm("y") == "Yes"
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
        enter_role(term, MANAGEMENT)
        # Esc goes back one question: from the target role to the management role.
        term._question(TARGET_ROLE_QUESTION)
        term.press(KEY_ESC)
        enter_role(term, MANAGEMENT)
        term.accept_default(TARGET_ROLE_QUESTION)
        term.accept_default(ACCESS_QUESTION)
        plan = term.plan(cluster["arn"], identity)
        assert "+ create" in plan, plan
        assert term.confirm("n") == "No"
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
        pytest.param(KEY_CTRL_C, id="ctrl-c"),
    ],
)
def test_leaving_the_picker_exits_130_and_writes_nothing(plugin_dir, namespace, key):
    before = resource_versions(namespace)
    with add(plugin_dir, namespace, "--identity", "irsa") as term:
        term.expect(r"^\? Which clusters should Argo CD manage\?", "the cluster picker")
        term.picker(lambda rows: True, "the picker's rows")
        term.press(key)
        status = term.wait()
        # The terminal is as it was: echo and line editing back on (no raw mode left).
        lflag = termios.tcgetattr(term.child.child_fd)[3]
        assert lflag & termios.ECHO and lflag & termios.ICANON, "the terminal was left in raw mode"
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
