"""The generated project on day two, in a team's hands: a teammate's clone (it has no service principal file), a
Stack that cannot be reached, and the project's own tests as CI runs them. The Stack and the bootstrapped project are
tests/test_reliability_project.py's fixtures (one of each for this module too)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from tests import test_reliability_project as reliability_project
from tests.helpers import closed_port, git, one_error
from tests.project import bootstrap, run, venv_python

pytestmark = pytest.mark.reliability

project_stack, project, bootstrapped = (reliability_project.project_stack, reliability_project.project,
                                        reliability_project.bootstrapped)
_project_secret = reliability_project._project_secret


def _without_venv(project: Path, destination: Path) -> Path:
    """A copy of ``project`` without its venv (its scripts run with the project's own venv Python all the same)."""
    shutil.copytree(project, destination, symlinks=True, ignore=shutil.ignore_patterns(".venv", ".venv-emulator"))
    return destination


@pytest.mark.slow  # bootstraps a project: installs packages
def test_r280_a_teammates_clone_is_told_how_to_make_the_service_principal_file(bootstrapped, project_env, tmp_path):
    """The service principal file is git-ignored: a clone has none. Every script says which file to create, with
    which keys (the client id the answers record), private; once made as said, the script runs."""
    origin = _without_venv(bootstrapped, tmp_path / "origin")
    secret = _project_secret(origin)
    git(origin, "init", "-q")
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "generated")
    git(tmp_path, "clone", "-q", str(origin), "clone")
    clone = tmp_path / "clone"
    assert not (clone / "azureSecretSpConfig.json").exists()
    client_id = json.loads((origin / "azureSecretSpConfig.json").read_text())["clientId"]
    booted = bootstrap(clone, project_env)  # bootstrap needs no credentials, and says the file is to be made
    assert booted.returncode == 0, booted.stderr
    assert "No service principal file here (it is git-ignored: a clone has none)" in booted.stdout, booted.stdout
    env = {**project_env, "AZURE_CLIENT_SECRET": secret}  # stands in for an empty clientSecret only: no file, no help
    for script in ("register_providers.py", "samples/resource_groups.py"):
        result = run(clone, env, venv_python(clone), script)
        line = one_error(result.returncode, result.stderr, "azureSecretSpConfig.json is missing")
        assert "git-ignored" in line and "create it, private (chmod 600 azureSecretSpConfig.json)" in line, line
        assert f'"clientId": "{client_id}"' in line and '"clientSecret"' in line, line
        assert "ask whoever generated the project" in line and "regenerate" not in line, line
        assert secret not in result.stdout + result.stderr
    readme = (clone / "README.md").read_text()
    assert "## A teammate's clone" in readme and "(umask 077 && touch azureSecretSpConfig.json) && chmod 600" in readme
    assert f'{{"clientId": "{client_id}", "clientSecret": ' in readme and secret not in readme
    # Day two: the teammate does what the README says, and the script runs, without a warning.
    path = clone / "azureSecretSpConfig.json"
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as made:
        json.dump({"clientId": client_id, "clientSecret": secret}, made)
    result = run(clone, project_env, venv_python(clone), "register_providers.py")
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr
    assert "No service principal file" not in bootstrap(clone, project_env).stdout


@pytest.mark.slow  # bootstraps a project: installs packages
def test_r281_an_unreachable_stack_is_not_called_a_failed_sign_in(bootstrapped, project_env, project_stack, tmp_path):
    """A closed port where the sign-in host or Resource Manager should be: "cannot reach", naming the host and what to
    check, from the real SDK (azure-identity wraps the refused connection in its ClientAuthenticationError); a real
    refusal of the credentials still reads as a failed sign-in."""
    copy = _without_venv(bootstrapped, tmp_path / "copy")
    stack = json.loads((copy / "stack.json").read_text())
    port = closed_port()
    # The sign-in host (as an ADFS Stack's, which has no instance discovery), then Resource Manager.
    for changed in ({"authorityHost": f"https://127.0.0.1:{port}", "disableInstanceDiscovery": True},
                    {"resourceManagerEndpointUrl": f"https://127.0.0.1:{port}/"}):
        (copy / "stack.json").write_text(json.dumps({**stack, **changed}))
        result = run(copy, project_env, venv_python(bootstrapped), "samples/resource_groups.py")
        line = one_error(result.returncode, result.stderr, f"error: cannot reach 127.0.0.1:{port}: check the endpoint in stack.json")
        assert "HTTPS_PROXY/NO_PROXY" in line and "sign-in failed" not in line, line
    booted = run(copy, project_env, sys.executable, "scripts/bootstrap.py")  # its TLS check says the same
    line = one_error(booted.returncode, booted.stderr, f"cannot reach the Stack's Resource Manager https://127.0.0.1:{port}/")
    assert "check the endpoint in stack.json" in line and "HTTPS_PROXY/NO_PROXY" in line, line
    (copy / "stack.json").write_text(json.dumps(stack))
    sp = json.loads((copy / "azureSecretSpConfig.json").read_text())
    (copy / "azureSecretSpConfig.json").write_text(json.dumps({**sp, "clientSecret": "not-the-secret"}))
    result = run(copy, project_env, venv_python(bootstrapped), "samples/resource_groups.py")
    line = one_error(result.returncode, result.stderr, "error: sign-in failed")
    assert "cannot reach" not in line, line


@pytest.mark.slow  # bootstraps a project: installs packages
def test_r282_the_projects_own_tests_print_no_false_warning(bootstrapped, project_env):
    """The project's unit tests, with its real service principal file private (0600): green, and no "readable by
    others" warning in the output (a test that opens a file's mode on purpose keeps its warning to itself)."""
    assert stat.S_IMODE((bootstrapped / "azureSecretSpConfig.json").stat().st_mode) == 0o600
    result = run(bootstrapped, project_env, venv_python(bootstrapped), "-m", "unittest", "discover", "-s", "tests", "-t", ".")
    assert result.returncode == 0, result.stderr
    assert "readable by others" not in result.stdout + result.stderr, result.stderr
