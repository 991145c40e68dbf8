"""A generated project's settings, trust and helper package on day two: one place for each setting (an upgrade to a
new endpoint reaches every command), the user's CA variables left set, and a no-op upgrade that changes nothing.

Every test here generates a project against the emulator with real copier and runs its real commands."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from azs_emulator import Emulator, EmulatorConfig
from tests.helpers import CA_OVERRIDES, EMULATOR_PROXY_PORT, MACHINE_CA_BUNDLE, PUBLIC_CA_DIR, ROOT, git, new_project, run_cli, two_template_versions
from tests.project import bootstrap, run, run_all_steps, venv_python


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


@pytest.mark.slow
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


def _corporate(env: dict[str, str]) -> dict[str, str]:
    """``env`` with every CA variable naming the machine's own bundle, as IT sets them on a corporate workstation: it
    holds neither the Stack's root nor the emulators' stand-in public CA."""
    import certifi

    bundle = MACHINE_CA_BUNDLE if MACHINE_CA_BUNDLE and Path(MACHINE_CA_BUNDLE).is_file() else certifi.where()
    return {**env, **{name: bundle for name in CA_OVERRIDES}}


@pytest.mark.slow
def test_every_command_runs_with_the_users_ca_variables_set(start_emulator, template_repo, project_env, tmp_path):
    """register_providers.py, every sample and the project's tests verify the Stack with the project's own bundle (certifi +
    the Stack's root + the user's bundle), handed to each client: the user's variables add to it, never replace it."""
    info = start_emulator().info()
    project = tmp_path / "project"
    new_project(info, project, template_repo)
    corporate = _corporate(project_env)
    booted = bootstrap(project, corporate)
    assert booted.returncode == 0, booted.stdout + booted.stderr
    commands = [["register_providers.py"], *([f"samples/{p.name}"] for p in sorted((project / "samples").glob("*.py"))),
                ["-m", "unittest", "discover", "-s", "tests", "-t", "."], ["-m", "samples.azure_stack"]]
    for command in commands:
        result = run(project, corporate, venv_python(project), *command)
        assert result.returncode == 0, f"{command}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
        assert "TLS verification failed" not in result.stderr
    assert "Trusts:" in result.stdout


@pytest.mark.slow
def test_the_emulator_proof_runs_with_the_users_ca_variables_set(start_emulator, template_repo, project_env, tmp_path):
    """scripts/test_against_emulator.py (bootstrap into .venv-emulator, registration, the samples, the tests) on a
    corporate workstation: the emulator's CAs are added to the user's, nothing asks to unset a variable."""
    generating = start_emulator()
    project = tmp_path / "project"
    new_project(generating.info(), project, template_repo, samples=("resource_groups", "blob_storage"))
    generating.stop()
    env = _corporate({**project_env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{project_env.get('PATH', '')}"})
    result = subprocess.run([sys.executable, "scripts/test_against_emulator.py"], cwd=project, env=env, capture_output=True,
                            text=True, timeout=900, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Every step passed against the emulated Stack." in result.stdout and "read-only SAS URL" in result.stdout


# -- the helper package, and projects generated before it --------------------------------------------------------

def test_every_released_one_module_helper_is_known_to_the_migration():
    """keep-helper-edits tells the template's own samples/azure_stack.py from an edited one by its fingerprint: every
    version the repository ever released is listed (a shallow clone cannot tell)."""
    from generator.templating.migrations import RELEASED_HELPERS, helper_fingerprint

    if git(ROOT, "rev-parse", "--is-shallow-repository").strip() == "true":
        pytest.fail("a shallow clone lacks the history of samples/azure_stack.py; test from a full clone")
    commits = git(ROOT, "log", "--all", "--format=%H", "--", "template/samples/azure_stack.py").split()
    released = set()
    for commit in commits:
        shown = subprocess.run(["git", "show", f"{commit}:template/samples/azure_stack.py"], cwd=ROOT, capture_output=True)
        if shown.returncode == 0:  # not the commit that deleted it
            released.add(helper_fingerprint(shown.stdout))
    assert released and released <= RELEASED_HELPERS, sorted(released - RELEASED_HELPERS)


def test_the_helper_is_a_package_of_short_documented_modules(template_repo):
    package = template_repo / "template" / "samples" / "azure_stack"
    modules = sorted(package.glob("*.py"))
    assert not (template_repo / "template" / "samples" / "azure_stack.py").exists() and len(modules) >= 8
    for module in modules:
        text = module.read_text()
        assert len(text.splitlines()) <= 150, module.name
        assert text.lstrip().startswith('"""'), f"{module.name} says what it is for"


# The last commit whose template had the one-module helper samples/azure_stack.py.
ONE_MODULE_HELPER = "462297c"
TEAM_HELPER = "\n\ndef team_greeting() -> str:\n    return 'hello from the team'\n"


@pytest.mark.slow
def test_a_project_with_the_one_module_helper_upgrades_to_the_package_keeping_edits(stack, template_repo, project_env,
                                                                                    tmp_path):
    """copier deletes a file the new template lacks, edited or not: the migration keeps the team's edits aside first,
    the samples (edited too) import from the package, and every command runs after the upgrade."""
    repo = two_template_versions(tmp_path / "versions", ONE_MODULE_HELPER, template_repo)
    assert "def load_config" in git(repo, "show", "v1.0.0:template/samples/azure_stack.py")

    info = stack.start()
    edited, plain = tmp_path / "edited", tmp_path / "plain"
    for project in (edited, plain):
        new_project(info, project, repo, vcs_ref="v1.0.0", samples=("resource_groups", "template_deployment"))
        _committed(project, "generated before the package")
    with (edited / "samples" / "azure_stack.py").open("a") as helper:
        helper.write(TEAM_HELPER.encode().decode("unicode_escape"))
    with (edited / "samples" / "resource_groups.py").open("a") as sample:
        sample.write("\n# Team edit: keep this line.\n")
    _committed(edited, "team edits")

    said = {}
    for project in (edited, plain):
        result = run_cli("upgrade", str(project), "--yes", "--trust", "--vcs-ref", "v2.0.0")
        assert result.returncode == 0, result.stderr
        said[project] = result.stderr
        assert "_commit: v2.0.0" in (project / ".copier-answers.yml").read_text()
        assert not (project / "samples" / "azure_stack.py").exists()
        assert (project / "samples" / "azure_stack" / "__init__.py").is_file()
    kept = edited / "samples" / "azure_stack" / "_before_the_package.py"
    assert "def team_greeting()" in kept.read_text() and "had your edits: kept in" in said[edited], said[edited]
    assert not (plain / "samples" / "azure_stack" / "_before_the_package.py").exists() and "had your edits" not in said[plain]
    assert "# Team edit: keep this line." in (edited / "samples" / "resource_groups.py").read_text()
    steps = run_all_steps(edited, project_env)
    assert any("Deleted azs-sample-template-" in step.stdout for step in steps), [step.args for step in steps]


# -- the answers: nothing of the generating machine, and a no-op update that changes nothing ------------------------

@pytest.mark.slow
def test_the_answers_name_the_projects_ca_and_a_no_op_update_changes_nothing(stack, template_repo, tmp_path):
    """The CA is given from a temporary folder (as for an emulator): the answers record the project's copy, and the
    project upgrades after that folder is gone. Updates with nothing new, copier's own and azs-scaffold's, with the
    template's migrations running (a tagged version), leave the working tree as it was."""
    repo = tmp_path / "tagged"
    shutil.copytree(template_repo, repo)
    git(repo, "tag", "v1.0.0")
    info = stack.start()
    given = tmp_path / "emulator-temp" / "root.pem"
    given.parent.mkdir()
    shutil.copy(info["ca_cert"], given)
    project = tmp_path / "project"
    new_project({**info, "root_ca": str(given)}, project, repo, vcs_ref="v1.0.0", samples=("resource_groups",))
    answers = (project / ".copier-answers.yml").read_text()
    assert "ca_cert: certs/azure-stack-root.pem\n" in answers and str(given.parent) not in answers, answers
    shutil.rmtree(given.parent)
    _committed(project, "generated")

    copier = str(Path(sys.executable).with_name("copier"))
    env = {**os.environ, "AZURE_CLIENT_SECRET": info["client_secret"]}
    updated = subprocess.run([copier, "update", "--trust", "--defaults", "--vcs-ref", "v1.0.0", "--quiet"], cwd=project,
                             capture_output=True, text=True, timeout=300, env=env)
    assert updated.returncode == 0, updated.stderr
    assert git(project, "status", "--porcelain") == "", git(project, "diff")
    for _ in range(2):
        upgraded = run_cli("upgrade", str(project), "--yes", "--trust", "--vcs-ref", "v1.0.0")
        assert upgraded.returncode == 0, upgraded.stderr
        assert git(project, "status", "--porcelain") == "", git(project, "diff")
    assert run_cli("upgrade", str(project), "--check").returncode == 0
