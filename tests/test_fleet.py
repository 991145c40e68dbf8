"""A fleet (#34): every project of a batch's folder checked (``upgrade --all --check [--json]``) and upgraded
(``upgrade --all --yes``) after a Stack upgrade, each on its own: a dirty project is skipped with its reason, a
current one left alone, a broken one fails alone; then the day after, the rest follows."""

from __future__ import annotations

import json
import os
import subprocess

import yaml

from tests.helpers import GENERATOR_COMMAND, git, run_cli

UPGRADE = ("--trust", "--vcs-ref", "HEAD")  # the projects record the tests' template repository


def _rows(stdout: str) -> dict[str, str]:
    """The table's rows by project name."""
    lines = stdout.split("\n\n")[0].splitlines()
    assert lines[0].split()[:2] == ["project", "status"], stdout
    return {line.split()[0]: line for line in lines[1:]}


def test_a_fleet_is_checked_and_upgraded_each_project_on_its_own(start_emulator, template_repo, tmp_path):
    state = str(tmp_path / "stack-state")
    before = start_emulator(release="2008", state_dir=state)
    info = before.info()
    teams = tmp_path / "teams.yaml"
    teams.write_text(yaml.safe_dump({
        "defaults": {"arm_endpoint": info["arm_endpoint"], "ca_cert": info["ca_cert"], "client_id": info["client_id"],
                     "client_secret_env": "AZS_FLEET_SECRET", "samples": ["resource_groups"]},
        "teams": [{"project_name": "alpha"}, {"project_name": "bravo"}, {"project_name": "charlie"}],
    }))
    out = tmp_path / "out"
    batch = subprocess.run([*GENERATOR_COMMAND, "new", "--batch", str(teams), str(out), "--template", str(template_repo),
                            "--vcs-ref", "HEAD"], capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
                           env={**os.environ, "AZS_FLEET_SECRET": info["client_secret"]})
    assert batch.returncode == 0, batch.stdout + batch.stderr
    for name in ("alpha", "bravo", "charlie"):
        assert git(out / name, "status", "--porcelain") == "", f"the batch commits {name}"
        assert git(out / name, "rev-list", "--count", "HEAD").strip() == "1"

    # The Stack is upgraded to 2108; charlie's team upgrades at once; bravo's has work in progress.
    before.stop()
    start_emulator(release="2108", state_dir=state)
    assert run_cli("upgrade", str(out / "charlie"), "--yes", *UPGRADE).returncode == 0
    git(out / "charlie", "commit", "-qam", "upgraded to 2108")
    with (out / "bravo" / "README.md").open("a") as readme:
        readme.write("\n## Work in progress\n")

    check = run_cli("upgrade", str(out), "--all", "--check", "--json")
    assert check.returncode == 1, check.stderr
    report = json.loads(check.stdout)
    assert report["exit_code"] == 1 and report["folder"] == str(out.resolve())
    projects = {os.path.basename(p["project"]): p for p in report["projects"]}
    assert {name: p["status"] for name, p in projects.items()} == {"alpha": "due", "bravo": "due", "charlie": "current"}
    alpha = projects["alpha"]
    assert alpha["current"]["profile"] == "2019_03_01_hybrid" and alpha["target"]["profile"] == "2020_09_01_hybrid"
    # Without operator access the Stack does not say its release (the profile is what it serves): none is made up.
    assert alpha["current"]["release"] is None and alpha["target"]["release"] is None
    # The version copier's update takes when given none: the latest release tag, else HEAD (this template has no tag).
    assert alpha["current"]["template"] and alpha["target"]["template"] == "HEAD"
    assert {"what": "profile", "current": "2019_03_01_hybrid", "target": "2020_09_01_hybrid"} in alpha["changes"]
    assert alpha["error"] is None and projects["charlie"]["changes"] == []
    assert info["client_secret"] not in check.stdout + check.stderr

    one = run_cli("upgrade", str(out / "alpha"), "--check", "--json")
    assert one.returncode == 1 and json.loads(one.stdout)["changes"] == alpha["changes"]

    done = run_cli("upgrade", str(out), "--all", "--yes", *UPGRADE)
    assert done.returncode == 1, done.stdout + done.stderr
    rows = _rows(done.stdout)
    assert rows["alpha"].split()[1] == "upgraded" and "2019_03_01_hybrid -> 2020_09_01_hybrid" in rows["alpha"]
    assert rows["bravo"].split()[1] == "skipped" and "uncommitted changes" in rows["bravo"]
    assert rows["charlie"].split()[1] == "current"
    assert "3 project(s) under" in done.stdout and "1 current, 1 upgraded, 1 skipped" in done.stdout
    assert json.loads((out / "alpha" / "stack.json").read_text())["profile"] == "2020_09_01_hybrid"
    assert json.loads((out / "bravo" / "stack.json").read_text())["profile"] == "2019_03_01_hybrid"
    assert "## Work in progress" in (out / "bravo" / "README.md").read_text()

    # A project that cannot be read fails alone: the others are still reported, and checking says "cannot tell".
    broken = out / "delta"
    broken.mkdir()
    (broken / ".copier-answers.yml").write_text("_src_path: [unclosed\n")
    check = run_cli("upgrade", str(out), "--all", "--check")
    assert check.returncode == 2, check.stdout + check.stderr
    rows = _rows(check.stdout)
    assert rows["delta"].split()[1] == "failed" and rows["charlie"].split()[1] == "current"
    assert rows["alpha"].split()[1] == "current" and rows["bravo"].split()[1] == "due"
    broken_json = run_cli("upgrade", str(broken), "--check", "--json")
    assert broken_json.returncode == 2 and json.loads(broken_json.stdout)["status"] == "failed"
    assert len(broken_json.stderr.strip().splitlines()) == 1 and "Traceback" not in broken_json.stderr

    # The day after: bravo's work is committed, alpha's upgrade too; the fleet catches up, and is then current.
    (broken / ".copier-answers.yml").unlink()
    broken.rmdir()
    git(out / "alpha", "add", "-A")
    git(out / "alpha", "commit", "-qm", "upgraded to 2108")
    git(out / "bravo", "commit", "-qam", "work in progress")
    again = run_cli("upgrade", str(out), "--all", "--yes", "--json", *UPGRADE)
    assert again.returncode == 0, again.stdout + again.stderr
    # stdout is the JSON alone, though copier's tasks printed while bravo was upgraded.
    report = json.loads(again.stdout)
    assert {os.path.basename(p["project"]): p["status"] for p in report["projects"]} == \
        {"alpha": "current", "bravo": "upgraded", "charlie": "current"} and report["exit_code"] == 0
    assert "## Work in progress" in (out / "bravo" / "README.md").read_text()
    git(out / "bravo", "commit", "-qam", "upgraded to 2108")
    final = run_cli("upgrade", str(out), "--all", "--check", "--json")
    assert final.returncode == 0 and {p["status"] for p in json.loads(final.stdout)["projects"]} == {"current"}


def test_all_needs_a_mode_and_a_folder_with_projects(tmp_path):
    refused = run_cli("upgrade", str(tmp_path), "--all")
    assert refused.returncode == 2 and "--all needs --check" in refused.stderr
    empty = run_cli("upgrade", str(tmp_path), "--all", "--check")
    assert empty.returncode == 2 and "no generated project" in empty.stderr
    json_alone = run_cli("upgrade", str(tmp_path), "--json", "--yes")
    assert json_alone.returncode == 2 and "--json goes with --check" in json_alone.stderr
