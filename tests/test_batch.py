"""Batch onboarding: many teams from one file, one discovery per Stack, failures isolated."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers import GENERATOR_COMMAND


def _batch_file(tmp_path, info, teams):
    document = {"defaults": {"arm_endpoint": info["arm_endpoint"], "ca_cert": info["ca_cert"], "client_id": info["client_id"],
                             "client_secret_env": "AZS_BATCH_SECRET", "samples": ["resource_groups"]},
                "teams": teams}
    path = tmp_path / "teams.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _run(path, out, template_repo, env):
    return subprocess.run([*GENERATOR_COMMAND, "new", "--batch", str(path), str(out), "--template",
                           str(template_repo), "--vcs-ref", "HEAD"], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **env}, stdin=subprocess.DEVNULL)


@pytest.mark.reliability
def test_batch_onboards_every_team_and_isolates_a_failure(start_emulator, template_repo, tmp_path):
    emulator = start_emulator()
    info = emulator.info()
    teams = [{"project_name": "alpha"}, {"project_name": "broken", "client_secret_env": "AZS_BATCH_WRONG"},
             {"project_name": "gamma", "samples": ["storage_accounts"]}]
    result = _run(_batch_file(tmp_path, info, teams), tmp_path / "out", template_repo,
                  {"AZS_BATCH_SECRET": info["client_secret"], "AZS_BATCH_WRONG": "not-the-secret"})
    assert result.returncode == 1, result.stderr
    assert "2 of 3 teams onboarded" in result.stdout
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:4]}
    assert " ok " in rows["alpha"] and " ok " in rows["gamma"] and "FAILED" in rows["broken"] and "AADSTS7000215" in rows["broken"]
    assert (tmp_path / "out" / "alpha" / "stack.json").exists() and (tmp_path / "out" / "gamma" / "stack.json").exists()
    assert not (tmp_path / "out" / "broken").exists()
    assert "azure-mgmt-storage" in (tmp_path / "out" / "gamma" / "requirements.txt").read_text()
    metadata_reads = [p for m, p in emulator.request_log if p.endswith("/metadata/endpoints")]
    assert len(metadata_reads) == 1, "one discovery per Stack"
    assert info["client_secret"] not in result.stdout + result.stderr

    # R112: the batch again, the broken team's secret fixed: the teams already there are no failures.
    alpha_before = (tmp_path / "out" / "alpha" / "stack.json").stat().st_mtime_ns
    again = _run(_batch_file(tmp_path, info, teams), tmp_path / "out", template_repo,
                 {"AZS_BATCH_SECRET": info["client_secret"], "AZS_BATCH_WRONG": info["client_secret"]})
    assert again.returncode == 0, again.stdout + again.stderr
    assert "3 of 3 teams onboarded" in again.stdout and "2 already there from an earlier run" in again.stdout
    rows = {line.split()[0]: line for line in again.stdout.splitlines()[1:4]}
    assert " exists " in rows["alpha"] and " exists " in rows["gamma"] and " ok " in rows["broken"], again.stdout
    assert (tmp_path / "out" / "alpha" / "stack.json").stat().st_mtime_ns == alpha_before


@pytest.mark.reliability
@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"project_name": "bad", "secret": "x"}, "unknown key(s) secret"),
        ({"project_name": "good"}, "is used twice"),
        ({"project_name": "bad", "client_id": None}, "missing client_id"),
        ({"project_name": "bad", "samples": 5}, "samples must be a list of names"),
        ({"project_name": "bad", "samples": ["nope"]}, "nope"),
        ({"project_name": ["a", "b"]}, "project_name must be text, not list"),
        ({"project_name": "bad name"}, "Use 1-64 ASCII letters"),
    ],
)
def test_r71_a_bad_team_fails_alone_and_the_table_ends_the_run(emulator, template_repo, tmp_path, bad, message):
    info = emulator.info()
    result = _run(_batch_file(tmp_path, info, [{"project_name": "good"}, bad]), tmp_path / "out", template_repo,
                  {"AZS_BATCH_SECRET": info["client_secret"]})
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "1 of 2 teams onboarded" in result.stdout and message in result.stdout, result.stdout
    assert (tmp_path / "out" / "good" / "stack.json").exists()


@pytest.mark.reliability
@pytest.mark.parametrize(("content", "message"), [
    (None, "is a directory"),
    (b"teams:\n  - project_name: caf\xe9\n", "is not UTF-8 text"),
    (b"defaults: [1, 2]\nteams:\n  - project_name: a\n", "'defaults:' must be a mapping"),
])
def test_r72_a_teams_file_that_cannot_be_read_stops_at_once(template_repo, tmp_path, content, message):
    path = tmp_path / "teams.yaml"
    path.mkdir() if content is None else path.write_bytes(content)
    result = _run(path, tmp_path / "out", template_repo, {})
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.reliability
def test_r73_paths_in_a_teams_file_are_relative_to_its_folder(emulator, template_repo, tmp_path):
    info = emulator.info()
    folder = tmp_path / "onboarding"
    folder.mkdir()
    (folder / "root.pem").write_bytes(Path(info["ca_cert"]).read_bytes())
    document = {"defaults": {"arm_endpoint": info["arm_endpoint"], "ca_cert": "root.pem", "client_id": info["client_id"],
                             "client_secret_env": "AZS_BATCH_SECRET", "samples": ["resource_groups"]},
                "teams": [{"project_name": "relative"}]}
    (folder / "teams.yaml").write_text(yaml.safe_dump(document))
    result = subprocess.run([*GENERATOR_COMMAND, "new", "--batch", str(folder / "teams.yaml"), "out", "--template",
                             str(template_repo)], capture_output=True, text=True, timeout=600, cwd=tmp_path,
                            env={**os.environ, "AZS_BATCH_SECRET": info["client_secret"]}, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "out" / "relative" / "certs" / "azure-stack-root.pem").exists()


def test_a_batch_from_the_bundle_records_the_public_url_and_the_commit_for_every_team(emulator, template_repo, tmp_path):
    """The bundle is cloned once for the whole batch (copier clones that per team): every project still records the
    public URL and the template commit, as `new` does, and no path of the scratch clone; the clone is gone after."""
    from generator._util.git import git
    from generator.templating.template_source import BUNDLE_NAME, public_url

    info = emulator.info()
    bundle = tmp_path / "dist" / BUNDLE_NAME
    bundle.parent.mkdir()
    git(template_repo, "bundle", "create", "-q", str(bundle), "HEAD", "--tags")
    commit = git(template_repo, "describe", "--tags", "--always").strip()
    path = _batch_file(tmp_path, info, [{"project_name": f"team-{n}"} for n in range(3)])
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    result = _run(path, tmp_path / "out", bundle, {"AZS_BATCH_SECRET": info["client_secret"], "TMPDIR": str(scratch)})
    assert result.returncode == 0, result.stdout + result.stderr
    for n in range(3):
        answers = yaml.safe_load((tmp_path / "out" / f"team-{n}" / ".copier-answers.yml").read_text())
        assert (answers["_src_path"], answers["_commit"]) == (public_url(), commit), answers
        assert "azs-scaffold-template" not in (tmp_path / "out" / f"team-{n}" / "README.md").read_text()
    assert list(scratch.iterdir()) == []
