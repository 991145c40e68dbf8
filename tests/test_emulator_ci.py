"""Every generated project proves itself against an emulated Stack of its own release, with one command,
and its CI definitions run exactly that command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from generator.templating.copier_extension import azs_ci_steps
from tests.helpers import new_project

pytestmark = pytest.mark.slow


@pytest.mark.reliability
@pytest.mark.parametrize(("release", "identity"), [("2008", "adfs"), ("2108", "azure_ad")])
def test_a_project_proves_itself_against_its_own_emulator(start_emulator, template_repo, project_env, tmp_path, release, identity):
    generating = start_emulator(release=release, identity_system=identity)
    project = tmp_path / "project"
    new_project(generating.info(), project, template_repo)
    generating.stop()  # no Stack from here on
    # In this mode the real credential file and CA are never read: make both fail if they were.
    (project / "azureSecretSpConfig.json").write_text("{ not json")
    (project / "certs" / "azure-stack-root.pem").write_text("not a certificate")
    env = {**project_env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{project_env.get('PATH', '')}"}
    result = subprocess.run([sys.executable, "scripts/test_against_emulator.py"], cwd=project, env=env, capture_output=True,
                            text=True, timeout=900, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for sample in ("resource_groups", "storage_accounts", "virtual_networks", "virtual_machines", "key_vault", "blob_storage",
                   "template_deployment"):
        assert f"samples/{sample}.py" in result.stdout
    assert "Deleted azs-sample-rg-" in result.stdout and "Every step passed against the emulated Stack." in result.stdout
    assert not (project / ".venv").exists(), "the project's own venv is left alone"
    assert not (project / ".azs-emulator" / "overlay.json").exists()
    # R118: in that venv, the project's hints name it, not .venv.
    hint = subprocess.run([str(project / ".venv-emulator" / "bin" / "python"), "-c", "import sys; sys.path.insert(0, 'samples'); "
                           "import azure_stack; print(azure_stack.tls_diagnosis()); print(azure_stack.tls_diagnosis(sign_in=True))"],
                          cwd=project, env=project_env, capture_output=True, text=True, timeout=60)
    assert "not trusted in .venv-emulator;" in hint.stdout and "--python .venv-emulator/bin/python" in hint.stdout, hint


def test_both_ci_definitions_run_the_same_commands(start_emulator, template_repo, tmp_path):
    info = start_emulator().info()
    project = tmp_path / "project"
    new_project(info, project, template_repo)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    expected = [command for _, command in azs_ci_steps(answers["_src_path"], answers["_commit"])]
    github = yaml.safe_load((project / ".github" / "workflows" / "test-against-emulator.yml").read_text())
    pipelines = yaml.safe_load((project / "azure-pipelines.yml").read_text())
    assert [s["run"] for s in github["jobs"]["emulator"]["steps"] if "run" in s] == expected
    assert [s["script"] for s in pipelines["steps"] if "script" in s] == expected
    assert expected[-1] == "python scripts/test_against_emulator.py" and (project / "scripts" / "test_against_emulator.py").exists()


def test_ci_definitions_are_chosen_by_a_question(start_emulator, template_repo, tmp_path):
    info = start_emulator().info()
    project = tmp_path / "project"
    new_project(info, project, template_repo, extra_data={"ci": ["azure_pipelines"]})
    assert (project / "azure-pipelines.yml").exists() and not (project / ".github").exists()


def test_the_emulator_follows_the_release_the_project_records(tmp_path):
    """After `azs-scaffold upgrade` to a new Stack release, --for-project emulates that release."""
    from generator.operations.project_emulator import project_settings

    answers = tmp_path / ".copier-answers.yml"
    answers.write_text("_src_path: x\nstack_release: '2008'\nidentity_system: adfs\nprofile: 2019_03_01_hybrid\n")
    assert project_settings(tmp_path) == ("2008", "adfs")
    answers.write_text("_src_path: x\nstack_release: '2206'\nidentity_system: azure_ad\nprofile: 2020_09_01_hybrid\n")
    assert project_settings(tmp_path) == ("2206", "azure_ad")
    answers.write_text("_src_path: x\nstack_release: ''\nidentity_system: azure_ad\nprofile: latest\n")
    assert project_settings(tmp_path) == ("azure", "azure_ad")
