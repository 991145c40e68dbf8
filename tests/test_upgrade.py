"""Regeneration after a Stack upgrade: 2008 (2019_03_01_hybrid) -> 2108 (2020_09_01_hybrid), edits kept."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from azs_emulator import Emulator, EmulatorConfig
from tests.helpers import (
    EMULATOR_PROXY_PORT,
    GENERATOR_COMMAND,
    PUBLIC_CA_DIR,
    git,
    new_project,
    run_cli,
    two_template_versions,
)
from tests.project import run_all_steps


@pytest.fixture
def stack(tmp_path):
    """An emulator with persistent state that a test can 'upgrade' to another release on the same port."""

    class Stack:
        emulator: Emulator | None = None

        def start(self, release: str) -> dict:
            self.stop()
            # The same names after a restart (the Stack's own), through the session's proxy port.
            config = EmulatorConfig(release=release, state_dir=str(tmp_path / "stack-state"), registration_delay=0.2,
                                    public_ca_dir=PUBLIC_CA_DIR, proxy_port=EMULATOR_PROXY_PORT)
            self.emulator = Emulator(config).start()
            return self.emulator.info()

        def stop(self) -> None:
            if self.emulator:
                self.emulator.stop()
                self.emulator = None

    running = Stack()
    yield running
    running.stop()


def _generated_and_edited(stack, template_repo, tmp_path) -> Path:
    info = stack.start("2008")
    project = tmp_path / "project"
    new_project(info, project, template_repo)
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "generated")
    with (project / "samples" / "resource_groups.py").open("a") as sample:
        sample.write("\n# Team edit: keep this line.\n")
    with (project / "README.md").open("a") as readme:
        readme.write("\n## Team notes\n\nOur own section.\n")
    git(project, "commit", "-qam", "team edits")
    return project


def _assert_upgraded(project: Path, sp_before: bytes) -> None:
    stack = json.loads((project / "stack.json").read_text())
    assert stack["profile"] == "2020_09_01_hybrid" and stack["knownProfile"] == "v2020_09_01_hybrid"
    readme = (project / "README.md").read_text()
    assert "`2020_09_01_hybrid`" in readme and "Our own section." in readme
    assert "# Team edit: keep this line." in (project / "samples" / "resource_groups.py").read_text()
    assert (project / "azureSecretSpConfig.json").read_bytes() == sp_before
    assert "<<<<<<<" not in readme


@pytest.mark.slow  # bootstraps the upgraded project and runs its samples
def test_upgrade_after_a_stack_upgrade_keeps_edits_and_credentials(stack, template_repo, project_env, tmp_path):
    project = _generated_and_edited(stack, template_repo, tmp_path)
    sp_before = (project / "azureSecretSpConfig.json").read_bytes()
    stack.start("2108")

    check = run_cli("upgrade", str(project), "--check")
    assert check.returncode == 1, check.stderr
    assert "2019_03_01_hybrid -> 2020_09_01_hybrid" in check.stdout
    assert "ResourceManagementClient api-version  2018-05-01 -> 2019-10-01" in check.stdout
    assert git(project, "status", "--porcelain") == ""

    refused = run_cli("upgrade", str(project))
    assert refused.returncode == 2 and "--yes" in refused.stderr

    dry = run_cli("upgrade", str(project), "--dry-run", "--trust", "--vcs-ref", "HEAD")
    assert dry.returncode == 0, dry.stderr
    assert "+  \"profile\": \"2020_09_01_hybrid\"" in dry.stdout
    assert git(project, "status", "--porcelain") == ""

    done = run_cli("upgrade", str(project), "--yes", "--trust", "--vcs-ref", "HEAD")
    assert done.returncode == 0, done.stderr
    _assert_upgraded(project, sp_before)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "upgraded")
    assert run_cli("upgrade", str(project), "--check").returncode == 0
    run_all_steps(project, project_env)


def test_native_copier_update_refreshes_the_same_way(stack, template_repo, tmp_path):
    project = _generated_and_edited(stack, template_repo, tmp_path)
    sp_before = (project / "azureSecretSpConfig.json").read_bytes()
    stack.start("2108")
    copier = str(Path(sys.executable).with_name("copier"))
    result = subprocess.run([copier, "update", "--trust", "--defaults", "--vcs-ref", "HEAD", "--quiet"], cwd=project,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    _assert_upgraded(project, sp_before)


def test_a_dirty_project_is_refused(stack, template_repo, tmp_path):
    project = _project_after_a_stack_upgrade(stack, template_repo, tmp_path)  # an upgrade is due (else nothing to do)
    (project / "README.md").write_text("uncommitted")
    result = run_cli("upgrade", str(project), "--yes")
    assert result.returncode == 1 and "uncommitted changes" in result.stderr
    assert (project / "README.md").read_text() == "uncommitted"


def test_a_second_upgrade_while_one_rewrites_the_project_is_refused(stack, template_repo, tmp_path):
    """Two upgrades of one project at once (two CI jobs, two teammates' --samples) both passed the clean check and
    merged into the same files and index: both said "Upgraded", the tree a mix of the two. While one holds the
    project, the other is refused in one line and writes nothing. (Review dayfour.)"""
    from generator._util.git import worked_on_alone

    project = _project_after_a_stack_upgrade(stack, template_repo, tmp_path)  # an upgrade is due
    with worked_on_alone(project):  # what a running upgrade holds
        result = run_cli("upgrade", str(project), "--yes", "--trust")
    assert result.returncode == 1 and "another azs-scaffold run is rewriting" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()[-1:]) == 1 and "Traceback" not in result.stderr
    assert git(project, "status", "--porcelain") == ""
    assert run_cli("upgrade", str(project), "--yes", "--trust").returncode == 0  # once it is free, the upgrade runs


def test_upgrade_across_template_versions_migrates_a_renamed_answer(stack, template_repo, tmp_path):
    """v1 calls the region 'region'; v2 renames it to 'location' and migrates recorded answers."""
    repo = tmp_path / "versions"
    shutil.copytree(template_repo, repo)
    copier_yml = repo / "copier.yml"
    v2 = copier_yml.read_text()
    v1 = v2.replace("\nlocation:\n", "\nregion:\n").replace("validator: \"{% if not location %}", "validator: \"{% if not region %}")
    sp_template, stack_template = next(repo.glob("template/*azureSecretSpConfig.json*")), repo / "template" / "stack.json.jinja"
    sp_v2, stack_v2 = sp_template.read_text(), stack_template.read_text()
    copier_yml.write_text(v1)
    sp_template.write_text(sp_v2.replace('"location": location', '"location": region'))
    stack_template.write_text(stack_v2.replace('"location": location', '"location": region'))
    git(repo, "commit", "-qam", "v1: the answer is called region")
    git(repo, "tag", "v1.0.0")
    copier_yml.write_text(v2.replace("_migrations:\n", "_migrations:\n  - version: v2.0.0\n    command: [\"{{ _copier_python }}\", \"-m\", "
                                      "\"generator.templating.migrations\", \"rename-answer\", \"region\", \"location\"]\n"
                                      "    when: \"{{ _stage == 'before' }}\"\n", 1))
    sp_template.write_text(sp_v2)
    stack_template.write_text(stack_v2)
    git(repo, "commit", "-qam", "v2: region renamed to location")
    git(repo, "tag", "v2.0.0")

    info = stack.start("2108")
    project = tmp_path / "project"
    new_project(info, project, repo, vcs_ref="v1.0.0")
    answers = (project / ".copier-answers.yml").read_text()
    assert "region: local" in answers and "_commit: v1.0.0" in answers
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "generated from v1")
    result = run_cli("upgrade", str(project), "--yes", "--trust", "--vcs-ref", "v2.0.0")
    assert result.returncode == 0, result.stderr
    answers = (project / ".copier-answers.yml").read_text()
    assert "location: local" in answers and "region:" not in answers and "_commit: v2.0.0" in answers


def _project_after_a_stack_upgrade(stack, template_repo, tmp_path) -> Path:
    project = _generated_and_edited(stack, template_repo, tmp_path)
    stack.start("2108")
    return project


@pytest.mark.reliability
@pytest.mark.parametrize("delay", [0.0, 0.3])
def test_r67_sigterm_during_upgrade_leaves_the_whole_upgrade_or_none(stack, template_repo, tmp_path, delay):
    project = _project_after_a_stack_upgrade(stack, template_repo, tmp_path)
    process = subprocess.Popen([*GENERATOR_COMMAND, "upgrade", str(project), "--yes", "--trust", "--vcs-ref", "HEAD"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    seen = ""
    while "Regenerating" not in seen:
        line = process.stderr.readline()
        assert line, seen
        seen += line
    time.sleep(delay)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=300)
    assert "Traceback" not in err and process.returncode in (0, 130), seen + err
    changed = git(project, "status", "--porcelain")
    if changed:  # the whole upgrade, never the answers file alone; and said so, though a signal stopped the run
        assert json.loads((project / "stack.json").read_text())["profile"] == "2020_09_01_hybrid"
        assert "profile: 2020_09_01_hybrid" in (project / ".copier-answers.yml").read_text()
        assert f"Upgraded {project}" in out, out + err
        if process.returncode == 130:
            assert "interrupted (SIGTERM came while copier wrote): the upgrade above completed" in err, err


@pytest.mark.reliability
def test_r68_sigterm_during_a_dry_run_leaves_no_scratch(stack, template_repo, tmp_path):
    project = _project_after_a_stack_upgrade(stack, template_repo, tmp_path)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    process = subprocess.Popen([*GENERATOR_COMMAND, "upgrade", str(project), "--dry-run", "--trust", "--vcs-ref", "HEAD"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                               env={**os.environ, "TMPDIR": str(scratch)})
    time.sleep(1.5)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=300)
    assert "Traceback" not in err and process.returncode in (0, 130), err
    assert not list(scratch.iterdir()), list(scratch.iterdir())
    assert git(project, "status", "--porcelain") == ""


@pytest.mark.reliability
def test_r69_a_dry_run_of_a_dirty_project_shows_the_diff(stack, template_repo, tmp_path):
    project = _project_after_a_stack_upgrade(stack, template_repo, tmp_path)
    (project / "NOTES.md").write_text("not committed yet\n")
    result = run_cli("upgrade", str(project), "--dry-run", "--trust", "--vcs-ref", "HEAD")
    assert result.returncode == 0, result.stderr
    assert "2020_09_01_hybrid" in result.stdout and "NOTES.md" not in result.stdout
    assert (project / "NOTES.md").read_text() == "not committed yet\n"


@pytest.mark.reliability
def test_r70_check_tells_due_from_cannot_tell(stack, template_repo, tmp_path):
    project = _project_after_a_stack_upgrade(stack, template_repo, tmp_path)
    assert run_cli("upgrade", str(project), "--check").returncode == 1
    stack.stop()
    unreachable = run_cli("upgrade", str(project), "--check")
    assert unreachable.returncode == 2 and "Traceback" not in unreachable.stderr, unreachable.stderr


@pytest.mark.reliability
@pytest.mark.parametrize(("damage", "fragment"), [
    (lambda project: (project / "azureSecretSpConfig.json").write_text("[1, 2]"), "is not a JSON object"),
    (lambda project: (project / ".copier-answers.yml").write_text(
        "\n".join(line for line in (project / ".copier-answers.yml").read_text().splitlines()
                  if not line.startswith(("arm_endpoint:", "resource_manager:")))), "records no Resource Manager endpoint"),
    (lambda project: (project / "azureSecretSpConfig.json").write_text(
        json.dumps({**json.loads((project / "azureSecretSpConfig.json").read_text()), "clientSecret": ""})), "holds no secret"),
    (lambda project: (project / ".copier-answers.yml").write_text(re.sub(  # R131: blamed on the file, not an option
        r"(?m)^subscription_id: .*$", "subscription_id: not-a-guid", (project / ".copier-answers.yml").read_text())),
     "subscription_id in .copier-answers.yml 'not-a-guid' is not a subscription id"),
])
def test_r87_a_damaged_project_is_one_line(stack, template_repo, tmp_path, damage, fragment):
    project = _project_after_a_stack_upgrade(stack, template_repo, tmp_path)
    damage(project)
    result = run_cli("upgrade", str(project), "--check", base_env={k: v for k, v in os.environ.items() if k != "AZURE_CLIENT_SECRET"})
    assert result.returncode == 2 and fragment in result.stderr and "Traceback" not in result.stderr, result.stderr


@pytest.mark.reliability
def test_r101_another_templates_tasks_never_run_unasked(stack, template_repo, tmp_path):
    """The project's answers file names a template that is not azs-scaffold's own, with a task: without --trust,
    neither --dry-run nor --yes runs it; with --trust, the run says what it trusts."""
    repo = tmp_path / "other-template"
    shutil.copytree(template_repo, repo)
    marker = tmp_path / "task-ran"
    copier_yml = repo / "copier.yml"
    copier_yml.write_text(copier_yml.read_text() + f"\n_tasks:\n  - [\"{{{{ _copier_python }}}}\", \"-c\", "
                          f"\"open({str(marker)!r}, 'w')\"]\n")
    git(repo, "commit", "-qam", "a template with a task")
    info = stack.start("2008")
    project = tmp_path / "project"
    new_project(info, project, repo)
    marker.unlink()  # generating ran it: the user asked for that template then
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "generated")
    stack.start("2108")
    for mode in ("--dry-run", "--yes"):
        result = run_cli("upgrade", str(project), mode, "--vcs-ref", "HEAD")
        assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
        assert "is not azs-scaffold's own" in result.stderr and "tasks" in result.stderr
        assert "pass --trust" in result.stderr, result.stderr
        assert not marker.exists() and git(project, "status", "--porcelain") == ""
    trusted = run_cli("upgrade", str(project), "--yes", "--trust", "--vcs-ref", "HEAD")
    assert trusted.returncode == 0, trusted.stderr
    assert f"Trusting {repo}" in trusted.stdout and marker.exists()


@pytest.mark.reliability
def test_r102_an_unknown_recorded_template_version_is_one_line(stack, template_repo, tmp_path):
    project = _project_after_a_stack_upgrade(stack, template_repo, tmp_path)
    answers = project / ".copier-answers.yml"
    answers.write_text(re.sub(r"(?m)^_commit: .*$", "_commit: 0123456789abcdef0123456789abcdef01234567", answers.read_text()))
    git(project, "commit", "-qam", "a commit nobody has")
    result = run_cli("upgrade", str(project), "--yes", "--trust")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "_commit 0123456789abcdef0123456789abcdef01234567" in result.stderr.strip().splitlines()[-1], result.stderr


@pytest.mark.reliability
@pytest.mark.parametrize("name", ["README.md", "constraints.txt"])
def test_r103_a_linked_file_the_upgrade_regenerates_is_refused(stack, template_repo, tmp_path, name):
    project = _project_after_a_stack_upgrade(stack, template_repo, tmp_path)
    kept = tmp_path / f"kept-{name}"
    shutil.move(project / name, kept)
    (project / name).symlink_to(kept)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "a linked file")
    for mode in ("--yes", "--dry-run"):
        result = run_cli("upgrade", str(project), mode, "--trust", "--vcs-ref", "HEAD")
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert f"{name} is a symbolic link" in result.stderr and "replace each link" in result.stderr, result.stderr
    assert git(project, "status", "--porcelain") == ""


@pytest.mark.reliability
def test_r113_both_doors_keep_a_typed_release_the_stack_does_not_tell(stack, template_repo, tmp_path):
    from generator.discovery import DiscoveryRequest, ServicePrincipal
    from generator.operations.render import NewProject, run_new

    info = stack.start("2108")
    project = tmp_path / "project"
    run_new(NewProject(destination=str(project), template=str(template_repo), vcs_ref="HEAD", discovery=DiscoveryRequest(
        arm_endpoint=info["arm_endpoint"], root_ca=info["root_ca"], release="2108",
        principal=ServicePrincipal(info["client_id"], client_secret=info["client_secret"]))))
    assert "stack_release: '2108'" in (project / ".copier-answers.yml").read_text()
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "generated")
    assert run_cli("upgrade", str(project), "--check").returncode == 0
    copier = str(Path(sys.executable).with_name("copier"))
    result = subprocess.run([copier, "update", "--trust", "--defaults", "--vcs-ref", "HEAD", "--quiet"], cwd=project,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "stack_release: '2108'" in (project / ".copier-answers.yml").read_text()
    assert "not known" not in (project / "README.md").read_text()
    assert run_cli("upgrade", str(project), "--check").returncode == 0


# The last commit whose template named the flat module paths (generator.copier_extension, -m generator.secret_files,
# -m generator.upgrade): every project generated before the layout moved records a template version like it.
FLAT_LAYOUT_COMMIT = "9af8fd6"


def test_a_project_from_before_the_layout_moved_still_upgrades(stack, template_repo, tmp_path):
    """copier runs an older template version with the installed generator (a project generated from it, and the
    old side of an upgrade's three-way merge): the module paths and Jinja globals an older copier.yml and template
    name must still be there."""
    repo = two_template_versions(tmp_path / "versions", FLAT_LAYOUT_COMMIT, template_repo)
    assert "generator.copier_extension.AzsScaffoldExtension" in git(repo, "show", "v1.0.0:copier.yml")

    info = stack.start("2008")
    project = tmp_path / "project"
    new_project(info, project, repo, vcs_ref="v1.0.0")
    assert "_commit: v1.0.0" in (project / ".copier-answers.yml").read_text()
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "generated before the move")
    stack.start("2108")
    result = run_cli("upgrade", str(project), "--yes", "--trust", "--vcs-ref", "v2.0.0")
    assert result.returncode == 0, result.stderr
    assert "_commit: v2.0.0" in (project / ".copier-answers.yml").read_text()
    assert json.loads((project / "stack.json").read_text())["profile"] == "2020_09_01_hybrid"


def test_the_released_module_names_still_run():
    """The task and migration entry points older copier.yml files name (their usage line proves they are reached)."""
    for module, usage in (("generator.secret_files", "secret_files fill"), ("generator.upgrade", "upgrade refresh-answers")):
        result = subprocess.run([sys.executable, "-m", module], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and usage in result.stderr, (module, result.stderr)
