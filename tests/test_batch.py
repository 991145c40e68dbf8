"""Batch onboarding: many teams from one file, one discovery per Stack, failures isolated."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.slow


def _batch_file(tmp_path, info, teams):
    document = {"defaults": {"arm_endpoint": info["arm_endpoint"], "ca_cert": info["ca_cert"], "client_id": info["client_id"],
                             "client_secret_env": "AZS_BATCH_SECRET", "samples": ["resource_groups"]},
                "teams": teams}
    path = tmp_path / "teams.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _run(path, out, template_repo, env):
    return subprocess.run([sys.executable, "-m", "generator", "new", "--batch", str(path), str(out), "--template",
                           str(template_repo), "--vcs-ref", "HEAD"], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **env}, stdin=subprocess.DEVNULL)


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


@pytest.mark.parametrize(
    ("teams", "message"),
    [
        ([{"project_name": "a", "secret": "x"}], "unknown key(s) secret"),
        ([{"project_name": "a"}, {"project_name": "a"}], "is used twice"),
        ([{"client_id": None}], "missing project_name, client_id"),
    ],
)
def test_a_bad_batch_file_stops_before_anything_is_done(emulator, template_repo, tmp_path, teams, message):
    result = _run(_batch_file(tmp_path, emulator.info(), teams), tmp_path / "out", template_repo, {})
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
