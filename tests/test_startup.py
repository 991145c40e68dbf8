"""``--help`` stays fast: it imports neither copier nor the Azure SDK (timings: bench/run.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from generator.commands import COMMANDS

HEAVY = ("copier", "azure", "requests", "cryptography", "jinja2", "msal")


@pytest.mark.parametrize("command", [[], *([name] for name in COMMANDS)])
def test_help_imports_nothing_heavy(command):
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "generator", *command, "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


def test_bare_help_imports_only_the_parser_and_the_table():
    """``azs-scaffold --help`` within a tenth of ``copier --help`` (bench/run.py): beside argparse, the command table and
    the exit codes, none of the standard library's heavier modules a running command needs."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "generator", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and "COMMAND" in result.stdout
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert not imported & {"logging", "typing", "shutil", "threading", "dataclasses", "pathlib"}, sorted(
        imported & {"logging", "typing", "shutil", "threading", "dataclasses", "pathlib"})
