"""The service principal's role, known before anything fails: discover shows it, new and batch warn per sample it
will not let run, doctor says so, and a generated project meets a refused write with one line saying what to ask for."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import requests

from generator import catalog
from tests import sdk
from tests.helpers import run_cli
from tests.project import bootstrap, run, venv_python

SECRET_ENV = "AZS_ROLES_SECRET"


def _cli(info: dict, *args: str) -> subprocess.CompletedProcess:
    return run_cli(*args, env={SECRET_ENV: info["client_secret"]})


def _stack(info: dict) -> list[str]:
    return ["--arm-endpoint", info["arm_endpoint"], "--root-ca", info["ca_cert"], "--client-id", info["client_id"],
            "--client-secret-env", SECRET_ENV]


@pytest.mark.parametrize("role", ["Reader", "Contributor", "Owner"])
def test_discover_shows_the_principals_roles(start_emulator, role):
    info = start_emulator(role=role).info()
    shown = _cli(info, "discover", *_stack(info))
    assert shown.returncode == 0, shown.stderr
    assert f"Roles             {role} at /subscriptions/{info['subscription_id']}" in shown.stdout
    as_json = json.loads(_cli(info, "discover", *_stack(info), "--json").stdout)
    assert as_json["roles"] == [{"role": role, "scope": f"/subscriptions/{info['subscription_id']}"}]


def test_new_warns_once_per_sample_a_reader_cannot_run_and_still_generates(start_emulator, tmp_path):
    reader = start_emulator(role="Reader")
    info = reader.info()
    made = _cli(info, "new", str(tmp_path / "p"), "--non-interactive", *_stack(info), "--samples", "resource_groups,key_vault")
    assert made.returncode == 0, made.stderr
    warnings = [line for line in made.stderr.splitlines() if line.startswith("warning: ")]
    assert [w.split()[2] for w in warnings] == ["resource_groups", "key_vault"]
    assert all("ask the Stack operator for Contributor" in w and "holds Reader" in w for w in warnings)
    readme = (tmp_path / "p" / "README.md").read_text()
    assert "| least role |" in readme and readme.count("| Contributor |") == 2
    reader.stop()  # emulators take turns on the session's proxy port
    owner = start_emulator(role="Owner").info()
    clean = _cli(owner, "new", str(tmp_path / "q"), "--non-interactive", *_stack(owner), "--samples", "resource_groups")
    assert clean.returncode == 0 and "warning:" not in clean.stderr, clean.stderr


def test_unreadable_assignments_are_said_plainly_and_generation_goes_on(start_emulator, tmp_path):
    info = start_emulator().info()
    forbidden = {"error": {"code": "AuthorizationFailed", "message": "The client does not have authorization to perform "
                           "action 'Microsoft.Authorization/roleAssignments/read'."}}
    requests.put(f"{info['arm_endpoint']}_emulator/faults", json={"replace": 10, "replace_status": 403, "path": "roleAssignments",
                                                                   "replace_body": json.dumps(forbidden)},
                 verify=info["ca_cert"], timeout=10).raise_for_status()
    shown = _cli(info, "discover", *_stack(info))
    assert shown.returncode == 0, shown.stderr
    assert "could not be read: the principal may not read them (it lacks Microsoft.Authorization/roleAssignments/read)" in shown.stdout
    made = _cli(info, "new", str(tmp_path / "p"), "--non-interactive", *_stack(info), "--samples", "resource_groups")
    assert made.returncode == 0, made.stderr
    (warning,) = [line for line in made.stderr.splitlines() if line.startswith("warning: ")]
    assert "could not be read" in warning and "need Contributor" in warning


def test_doctor_warns_when_the_principal_may_write_nothing(start_emulator, tmp_path):
    info = start_emulator(role="Reader").info()
    project = tmp_path / "hand"
    project.mkdir()
    (project / "app.py").write_text("from azure.mgmt.resource import ResourceManagementClient\n")
    result = _cli(info, "doctor", str(project), "--json", *_stack(info), "--release", "2108")
    findings = json.loads(result.stdout)["findings"]
    assert any("holds Reader on subscription" in f["problem"] and "ask the Stack operator for Contributor" in f["fix"]
               for f in findings), findings


def test_every_sample_names_its_least_role():
    assert {name: catalog.minimal_role(name) for name in catalog.SAMPLES} == {name: "Contributor" for name in catalog.SAMPLES}
    assert catalog.refused_actions("storage_accounts", ["Owner"]) == []
    assert "Microsoft.Storage/register/action" in catalog.refused_actions("storage_accounts", ["Reader"])
    assert catalog.refused_actions("storage_accounts", ["Custom Deployer"]) == []  # unknown actions: not held against it


@pytest.mark.slow
def test_a_generated_project_meets_a_refused_write_with_one_line(start_emulator, template_repo, project_env, tmp_path):
    from tests.helpers import new_project

    info = start_emulator(role="Reader").info()
    project = tmp_path / "p"
    new_project(info, project, template_repo, samples=("storage_accounts",))
    assert bootstrap(project, project_env).returncode == 0
    for step in ("register_providers.py", "samples/storage_accounts.py"):
        result = run(project, project_env, venv_python(project), step)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        (line,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        # ARM names a service principal by its object id in AuthorizationFailed (not its application id)
        assert f"the service principal {sdk.object_id(info)} may not " in line and "ask the Stack operator for Contributor" in line
        assert Path(project / "stack.json").exists()


def test_batch_warns_per_team_and_sample_and_still_onboards(start_emulator, template_repo, tmp_path):
    import yaml

    info = start_emulator(role="Reader").info()
    teams = tmp_path / "teams.yaml"
    teams.write_text(yaml.safe_dump({"defaults": {"arm_endpoint": info["arm_endpoint"], "ca_cert": info["ca_cert"],
                                                  "client_id": info["client_id"], "client_secret_env": SECRET_ENV,
                                                  "samples": ["resource_groups"]},
                                     "teams": [{"project_name": "alpha"}, {"project_name": "beta", "samples": ["blob_storage"]}]}))
    result = _cli(info, "new", "--batch", str(teams), str(tmp_path / "out"), "--template", str(template_repo), "--vcs-ref", "HEAD")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 of 2 teams onboarded" in result.stdout
    warnings = [line.strip() for line in result.stderr.splitlines() if line.strip().startswith("warning: ")]
    # Teams run side by side and each reports as it finishes (docs/batch.md): each team's warning, in any order.
    assert sorted(w.split()[1:4] for w in warnings) == [["alpha:", "sample", "resource_groups"], ["beta:", "sample", "blob_storage"]]
    assert all("ask the Stack operator for Contributor" in w for w in warnings)
