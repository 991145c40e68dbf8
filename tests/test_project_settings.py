"""A generated project's settings, trust and helper package on day two: one place for each setting (an upgrade to a
new endpoint reaches every command), the user's CA variables left set, and a no-op upgrade that changes nothing.

Every test here generates a project against the emulator with real copier and runs its real commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from azs_emulator import Emulator, EmulatorConfig
from tests.helpers import EMULATOR_PROXY_PORT, PUBLIC_CA_DIR, git, new_project, run_cli
from tests.project import run, run_all_steps, venv_python

pytestmark = pytest.mark.slow


class Stack:
    """One emulated Stack at a time, its state (principal, subscription, CA) kept across restarts under new names."""

    def __init__(self, state: Path) -> None:
        self.state, self.emulator = state, None

    def start(self, **options: object) -> dict:
        self.stop()
        self.emulator = Emulator(EmulatorConfig(state_dir=str(self.state), registration_delay=0.2, public_ca_dir=PUBLIC_CA_DIR,
                                                proxy_port=EMULATOR_PROXY_PORT, **options)).start()  # type: ignore[arg-type]
        return self.emulator.info()

    def stop(self) -> None:
        if self.emulator:
            self.emulator.stop()
            self.emulator = None


@pytest.fixture
def stack(tmp_path):
    running = Stack(tmp_path / "stack-state")
    yield running
    running.stop()


def _committed(project: Path, message: str) -> None:
    if not (project / ".git").exists():
        git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", message)


def test_an_upgrade_to_a_new_endpoint_reaches_every_command(stack, template_repo, project_env, tmp_path):
    """The Stack moves to new names (another FQDN): after ``upgrade --arm-endpoint``, register_providers.py, every
    sample and the project's tests talk to the new endpoint, though the service principal file (never rewritten: it
    holds the credentials) still carries the old one under Microsoft's key names."""
    old = stack.start()
    project = tmp_path / "project"
    new_project(old, project, template_repo)
    run_all_steps(project, project_env)
    _committed(project, "generated")
    sp_before = (project / "azureSecretSpConfig.json").read_bytes()

    new = stack.start(fqdn="contoso.example")
    assert new["arm_endpoint"] != old["arm_endpoint"]
    done = run_cli("upgrade", str(project), "--yes", "--trust", "--vcs-ref", "HEAD", "--arm-endpoint", new["arm_endpoint"])
    assert done.returncode == 0, done.stderr
    assert json.loads((project / "stack.json").read_text())["resourceManagerEndpointUrl"] == new["arm_endpoint"]
    assert (project / "azureSecretSpConfig.json").read_bytes() == sp_before
    assert json.loads(sp_before)["resourceManagerEndpointUrl"] == old["arm_endpoint"]  # the stale copy, never read

    steps = run_all_steps(project, project_env)  # the old names are served no more: every step proves the new ones
    assert any("Deleted azs-sample-rg-" in step.stdout for step in steps)
    shown = run(project, project_env, venv_python(project), "-m", "samples.azure_stack")
    assert shown.returncode == 0 and f"Resource Manager: {new['arm_endpoint']}" in shown.stdout, shown.stdout + shown.stderr
