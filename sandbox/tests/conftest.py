"""Fixtures every sandbox test file shares: the running sandbox's exported environment."""

import shlex
import subprocess
from pathlib import Path

import pytest

SANDBOX = Path(__file__).resolve().parents[2] / "scripts" / "sandbox"
# Unset by `scripts/sandbox env`, so a user's own AWS settings never leak into the tests.
UNSET = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")


@pytest.fixture(scope="session")
def sandbox_exports():
    """The variables `scripts/sandbox env` exports; fails clearly when the sandbox is down."""
    status = subprocess.run([str(SANDBOX), "status"], capture_output=True, text=True)
    if status.returncode != 0:
        pytest.fail(
            "the sandbox is not up; run `scripts/sandbox up` first\n"
            + status.stdout
            + status.stderr,
            pytrace=False,
        )
    out = subprocess.run([str(SANDBOX), "env"], capture_output=True, text=True, check=True).stdout
    exported = {}
    for line in out.splitlines():
        words = shlex.split(line)
        if words and words[0] == "export":
            name, _, value = words[1].partition("=")
            exported[name] = value
    return exported
