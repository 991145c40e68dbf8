"""azs-scaffold as users install it: a wheel built from a clean clone, installed non-editable into a
fresh venv, run from a folder that has nothing to do with the checkout.

The clone gets two releases of its own (tags v1000.0.0 and v1000.1.0, the second changing the
template), so that an upgrade across template versions is tested with only the newer wheel installed.
git may use only local transports in these tests: a template fetched from anywhere else fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from generator.templating.template_source import public_url
from tests.helpers import (
    MACHINE_CA_BUNDLE,
    NEW,
    NEW_LINE,
    OFFLINE_GIT,
    OLD,
    clean_clone,
    git,
    installed_cli,
    installed_new,
    ok,
    without_emulator_proxy,
)
from tests.project import run_all_steps

pytestmark = pytest.mark.slow

def _answers(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))


def test_version_comes_from_the_git_tag(installed, elsewhere):
    assert ok(installed_cli(installed, elsewhere, "--version")).stdout.strip() == "azs-scaffold 1000.1.0"


def test_the_installed_wheel_generates_a_project_that_runs(installed, elsewhere, emulator, project_env):
    ok(installed_new(installed, elsewhere, emulator.info(), "team-a"))
    project = elsewhere / "team-a"
    answers = _answers(project)
    # A source that means the same on a teammate's machine, and a commit that exists in every later release.
    assert answers["_src_path"] == public_url() and answers["_commit"] == NEW
    assert f"template version `{NEW}`" in (project / "README.md").read_text()
    run_all_steps(project, project_env)


def test_the_installed_wheel_onboards_a_batch(installed, elsewhere, emulator):
    info = emulator.info()
    teams = {"defaults": {"arm_endpoint": info["arm_endpoint"], "ca_cert": info["ca_cert"], "client_id": info["client_id"],
                          "client_secret_env": "AZS_SECRET", "samples": ["resource_groups"]},
             "teams": [{"project_name": "team-b"}, {"project_name": "team-c"}]}
    (elsewhere / "teams.yaml").write_text(yaml.safe_dump(teams))
    result = ok(installed_cli(installed, elsewhere, "new", "--batch", "teams.yaml", "out", env={"AZS_SECRET": info["client_secret"]}))
    assert "2 of 2 teams onboarded" in result.stdout
    assert {_answers(elsewhere / "out" / name)["_commit"] for name in ("team-b", "team-c")} == {NEW}


def test_the_installed_wheel_runs_the_demo_outside_any_checkout(installed, elsewhere, project_env):
    env = {**project_env, "TMPDIR": str(elsewhere)}
    result = ok(installed_cli(installed, elsewhere, "demo", env=env))
    assert "[5/5] Running the resource group sample" in result.stdout
    (project,) = elsewhere.glob("azs-demo-*/azs-demo")
    assert _answers(project)["_src_path"] == public_url()


def test_an_older_release_project_is_upgraded_offline_by_the_newer_wheel(installed, elsewhere, emulator):
    info = emulator.info()
    ok(installed_new(installed, elsewhere, info, "team-d", "--vcs-ref", OLD))
    project = elsewhere / "team-d"
    assert _answers(project)["_commit"] == OLD and NEW_LINE not in (project / "README.md").read_text()
    assert not git(project, "status", "--porcelain").strip(), "new commits the project it makes"
    with (project / "samples" / "resource_groups.py").open("a") as sample:
        sample.write("\n# Team edit: keep this line.\n")
    git(project, "commit", "-qam", "team edit")
    secret_file = (project / "azureSecretSpConfig.json").read_bytes()

    # Asked for the release it records, the check says current and --yes writes nothing (R250; before, the check
    # compared with this wheel's version and said due); asked for the newer one, due.
    same = installed_cli(installed, elsewhere, "upgrade", "team-d", "--check", "--vcs-ref", OLD)
    assert same.returncode == 0 and "is current" in same.stdout, same.stdout + same.stderr
    kept = ok(installed_cli(installed, elsewhere, "upgrade", "team-d", "--yes", "--vcs-ref", OLD))
    assert "Nothing to regenerate." in kept.stdout and not git(project, "status", "--porcelain").strip()
    newer = installed_cli(installed, elsewhere, "upgrade", "team-d", "--check", "--vcs-ref", NEW)
    assert newer.returncode == 1 and f"template  {OLD} -> {NEW}" in newer.stdout, newer.stdout + newer.stderr
    check = installed_cli(installed, elsewhere, "upgrade", "team-d", "--check")
    assert check.returncode == 1 and f"template  {OLD} -> v1000.1.0" in check.stdout, check.stdout + check.stderr
    ok(installed_cli(installed, elsewhere, "upgrade", "team-d", "--yes"))

    assert NEW_LINE in (project / "README.md").read_text()
    assert "# Team edit: keep this line." in (project / "samples" / "resource_groups.py").read_text()
    assert (project / "azureSecretSpConfig.json").read_bytes() == secret_file
    assert _answers(project)["_commit"] == NEW and _answers(project)["_src_path"] == public_url()
    assert "<<<<<<<" not in (project / "README.md").read_text()

    # The day after: the upgrade committed, the project is current, and upgrading again writes nothing at all.
    git(project, "add", "-A")
    git(project, "commit", "-qm", "upgraded")
    again = ok(installed_cli(installed, elsewhere, "upgrade", "team-d", "--yes"))
    assert "is current" in again.stdout and "Nothing to regenerate." in again.stdout, again.stdout
    assert not git(project, "status", "--porcelain").strip()
    assert installed_cli(installed, elsewhere, "upgrade", "team-d", "--check").returncode == 0


def test_the_sdist_carries_the_template_and_its_history(release_repo, tmp_path):
    """A wheel built from the sdist (no .git there) carries the same bundle, with every release tag."""
    subprocess.run([sys.executable, "-m", "build", "-q", "--sdist", "--outdir", str(tmp_path / "sdist"), str(release_repo)],
                   check=True, capture_output=True, timeout=600, env=without_emulator_proxy())
    (sdist,) = (tmp_path / "sdist").glob("*.tar.gz")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(sdist)],
                   check=True, capture_output=True, timeout=600, env=without_emulator_proxy())
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    archive = zipfile.ZipFile(wheel)
    assert "generator/_template/template/README.md.jinja" in archive.namelist()
    (tmp_path / "t.bundle").write_bytes(archive.read("generator/_template/azs-scaffold-template.bundle"))
    heads = subprocess.run(["git", "bundle", "list-heads", str(tmp_path / "t.bundle")], capture_output=True, text=True,
                           check=True).stdout
    assert f"refs/tags/{OLD}" in heads and f"refs/tags/{NEW}" in heads and "HEAD" in heads


def test_a_template_with_uncommitted_changes_is_refused_before_discovery(tmp_path):
    """An editable checkout whose template has uncommitted changes: refused at once (no Stack is asked)."""
    checkout = clean_clone(tmp_path / "checkout")
    with (checkout / "template" / "README.md.jinja").open("a") as readme:
        readme.write("\ndraft\n")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from generator.cli import main; "
            "raise SystemExit(main(['new', sys.argv[2], '--arm-endpoint', 'https://management.unreachable.invalid', "
            "'--client-id', '00000000-0000-0000-0000-000000000001', '--client-secret-env', 'X', '--non-interactive']))")
    result = subprocess.run([sys.executable, "-c", code, str(checkout), str(tmp_path / "p")], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "X": "s"}, cwd=tmp_path)
    assert result.returncode == 1
    assert "template/README.md.jinja" in result.stderr and "commit them first" in result.stderr
    assert "Discovering" not in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "p").exists()


def _readme_line(label: str) -> str:
    from tests.helpers import readme_command

    return readme_command(label)


def test_the_quick_start_runs_twice_in_a_fresh_clone_and_its_projects_upgrade(tmp_path, emulator, wheelhouse):
    clone = clean_clone(tmp_path / "clone")
    # As the demo does: no variable overrides requests' trust (SSL_CERT_FILE, which uv reads, may stay); and as a new
    # user has it, no emulator's proxy yet (the demo starts its own).
    env = {k: v for k, v in without_emulator_proxy().items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    if MACHINE_CA_BUNDLE and "SSL_CERT_FILE" not in env:
        env["SSL_CERT_FILE"] = MACHINE_CA_BUNDLE
    # The demo's bootstrap may take the pinned packages from the session's wheelhouse as well as the index.
    env.update(PIP_FIND_LINKS=str(wheelhouse), PIP_DISABLE_PIP_VERSION_CHECK="1", TMPDIR=str(tmp_path), **OFFLINE_GIT)
    for _ in range(2):
        result = subprocess.run(["bash", "-c", _readme_line("main-line")], cwd=clone, env=env, capture_output=True, text=True,
                                timeout=1200, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "[5/5] Running the resource group sample" in result.stdout
    assert not git(clone, "status", "--porcelain").strip(), "the quick start left files in the clone"

    info = emulator.info()
    command = clone / ".venv" / "bin" / "azs-scaffold"
    ok(installed_new(command, tmp_path, info, "from-clone"))
    project = tmp_path / "from-clone"
    assert _answers(project)["_src_path"] == public_url()
    assert json.loads((project / "azureSecretSpConfig.json").read_text())["clientId"] == info["client_id"]
    assert not git(project, "status", "--porcelain").strip(), "new commits the project it makes"
    result = ok(installed_cli(command, tmp_path, "upgrade", "from-clone", "--dry-run"))
    assert "is current" in result.stdout
