"""The README's promises that can be checked without running them twice."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.helpers import GENERATOR_COMMAND, readme_command

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_exactly_the_readme_test_line():
    test_line = readme_command("test-line")
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_line in ci_lines


def test_every_command_in_the_readme_has_help():
    code = "\n".join(re.findall(r"```(?:sh|bash)?\n(.+?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.DOTALL))
    commands = set(re.findall(r"azs-scaffold (\w+)", code))
    assert commands
    for command in sorted(commands):
        result = subprocess.run([*GENERATOR_COMMAND, command, "--help"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (command, result.stderr)
