"""tools/hybrid_suites: the classifier of Azure CLI's hybrid-suite runs, on small junit files written here (no network,
nothing installed). The runner itself is exercised by running it (docs/emulator.md says how); these hold the
classifier to its word: every failure in a category or reported as unclassified with exit 1, the counts right, the
docs block replaced whole."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tools.hybrid_suites import classify as classifier
from tools.hybrid_suites.rules import CATEGORIES, RULES, Rule


def _junit(path: Path, suite: str, cases: list[tuple[str, str, str, str]]) -> Path:
    """A junit file as pytest writes it: (classname, name, status, message) per test."""
    body = []
    for classname, name, status, message in cases:
        inner = {"failed": f'<failure message="{message}">Traceback: {message}</failure>',
                 "error": f'<error message="{message}">{message}</error>',
                 "skipped": '<skipped type="pytest.skip" message="skipped">skip</skipped>', "passed": ""}[status]
        body.append(f'<testcase classname="{classname}" name="{name}" time="1.0">{inner}</testcase>')
    path.write_text('<?xml version="1.0" encoding="utf-8"?><testsuites>'
                    f'<testsuite name="{suite}" errors="0" failures="0" skipped="0" tests="{len(cases)}" '
                    'timestamp="2026-12-07T16:30:00.000000"><properties><property name="azure_cli" value="2.66.0"/></properties>'
                    + "".join(body) + "</testsuite></testsuites>")
    return path


def _classify(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools.hybrid_suites", "classify", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)


CLASS = "azcli_storage.hybrid_2020_09_01.test_storage_blob_scenarios.StorageBlobTests"


def test_counts_and_categories_per_module_and_configuration(tmp_path):
    rules = (Rule("public-region", "names westus", test=r"::test_in_westus$"),
             Rule("emulator", "the ACL answers empty (#36)", message=r"ContainerAcl.*empty"))
    outcomes = classifier.read_junit(_junit(tmp_path / "a.xml", "2108+adfs/storage", [
        (CLASS, "test_in_westus", "failed", "LocationNotAvailableForResourceGroup"),
        (CLASS, "test_acl", "error", "ContainerAcl body was empty"),
        (CLASS, "test_ok", "passed", ""),
        (CLASS, "test_later", "skipped", ""),
    ])).outcomes
    outcomes += classifier.read_junit(_junit(tmp_path / "b.xml", "2008+azure_ad/storage", [
        ("azcli_storage.hybrid_2019_03_01.test_storage_blob_scenarios.StorageBlobTests", "test_in_westus", "failed", "refused"),
    ])).outcomes
    report, unclassified = classifier.render(outcomes, rules)
    assert unclassified == 0
    assert "| storage | 2108+adfs | 1 | 2 | 1 | 1 | 1 |" in report
    assert "| storage | 2008+azure_ad | 0 | 1 | 0 | 1 | 0 |" in report
    # One line per test and reason, naming every configuration it failed in (the profile folder is not in the id).
    assert "- `storage::test_storage_blob_scenarios::StorageBlobTests::test_in_westus` (2108+adfs, 2008+azure_ad): names westus" in report
    assert "- `storage::test_storage_blob_scenarios::StorageBlobTests::test_acl` (2108+adfs): the ACL answers empty (#36)" in report


def test_a_failure_no_rule_matches_is_unclassified_and_fails_the_run(tmp_path):
    (tmp_path / "run").mkdir()
    _junit(tmp_path / "run" / "storage.xml", "2108+azure_ad/storage", [(CLASS, "test_new", "failed", "a brand new failure")])
    result = _classify(str(tmp_path / "run"))
    assert result.returncode == 1
    assert "#### unclassified" in result.stdout
    assert "`storage::test_storage_blob_scenarios::StorageBlobTests::test_new` (2108+azure_ad): a brand new failure" in result.stdout
    assert "1 failure(s) match no rule" in result.stdout


def test_only_passes_and_skips_exit_zero_and_replace_the_docs_block_whole(tmp_path):
    junit = _junit(tmp_path / "n.xml", "2008+azure_ad/network", [("azcli_network.hybrid_2019_03_01.test_network_commands.T", "test_a", "passed", "")])
    docs = tmp_path / "doc.md"
    docs.write_text(f"intro\n{classifier.BEGIN}\nold table\n{classifier.END}\noutro\n")
    result = _classify(str(junit), "--write-docs", str(docs), "--header", "Reproduce: python -m tools.hybrid_suites run ...")
    assert result.returncode == 0, result.stdout + result.stderr
    text = docs.read_text()
    assert "old table" not in text and text.startswith("intro\n") and text.endswith(f"{classifier.END}\noutro\n")
    assert "Measured on 2026-12-07 with az 2.66.0." in text and "Reproduce: python -m tools.hybrid_suites run ..." in text
    assert "| network | 2008+azure_ad | 1 | 0 | 0 |" in text


@pytest.mark.parametrize(("content", "fragment"), [
    ("not xml at all", "is not XML"),
    ('<testsuites><testsuite name="somewhere/storage"></testsuite></testsuites>', "is not <configuration>/<module>"),
])
def test_a_file_run_did_not_write_is_refused_in_one_line(tmp_path, content, fragment):
    path = tmp_path / "x.xml"
    path.write_text(content)
    result = _classify(str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and fragment in result.stderr


def test_the_rules_table_is_well_formed():
    keys = {category.key for category in CATEGORIES}
    assert RULES, "the rules table is empty"
    for rule in RULES:
        assert rule.category in keys and rule.reason.strip() and "\n" not in rule.reason
    with pytest.raises(ValueError, match="names a test, a message or both"):
        Rule("skew", "matches everything")


def test_help_names_both_actions_without_importing_the_runner():
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "tools.hybrid_suites", "--help"], capture_output=True,
                            text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0 and "run" in result.stdout and "classify" in result.stdout
    assert "tools.hybrid_suites.run" not in result.stderr and "xml.etree" not in result.stderr
