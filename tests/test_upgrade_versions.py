"""``upgrade --check`` says what ``upgrade --yes`` then does, also across template versions (``--vcs-ref``): one rule,
``UpgradePlan.due``, over the version the upgrade renders (``generator/templating/template_version.py``).
Real copier renders, a real template repository with two commits, the emulator as the Stack."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from copier._vcs import get_latest_tag

from generator.templating.template_source import BUNDLE_NAME, TemplateSource, TemplateSourceError
from generator.templating.template_version import latest_release, template_target
from tests.helpers import cli, git, new_project, one_error, run_cli, with_credentials

NEW_LINE = "Added in the template's second commit."


def _commit_all(folder: Path, message: str) -> None:
    git(folder, "init", "-q")
    git(folder, "add", "-A")
    git(folder, "commit", "-qm", message)


def _two_commits(template_repo: Path, repo: Path) -> tuple[str, str]:
    """A copy of the template under test (commit X) and a second commit adding a line to the README (Y): no tag,
    so that copier's update, given no version, takes HEAD (Y)."""
    shutil.copytree(template_repo, repo)
    first = git(repo, "rev-parse", "HEAD").strip()
    with (repo / "template" / "README.md.jinja").open("a", encoding="utf-8") as readme:
        readme.write(f"\n{NEW_LINE}\n")
    git(repo, "commit", "-qam", "the second commit")
    return first, git(repo, "rev-parse", "HEAD").strip()


def _check(project: Path, *args: str) -> dict:
    result = run_cli("upgrade", str(project), "--check", "--json", *args)
    report = json.loads(result.stdout)
    assert result.returncode == {"current": 0, "due": 1}[report["status"]], result.stderr
    return report


@pytest.mark.slow  # three projects, a dozen checks and upgrades and a fleet's: the whole flow (about 25 s)
@pytest.mark.reliability
def test_r250_check_says_what_yes_does_across_template_versions(start_emulator, template_repo, tmp_path):
    repo = tmp_path / "template-versions"
    x, y = _two_commits(template_repo, repo)
    info = start_emulator().info()
    projects = tmp_path / "projects"
    for name, ref in (("alpha", x), ("bravo", y), ("charlie", x)):
        new_project(info, projects / name, repo, vcs_ref=ref)
        _commit_all(projects / name, "generated")
    alpha, bravo, charlie = (projects / name for name in ("alpha", "bravo", "charlie"))
    assert NEW_LINE not in (alpha / "README.md").read_text() and NEW_LINE in (bravo / "README.md").read_text()

    # The Stack is unchanged: only the template version tells. Made at X, checked against Y: an upgrade is due.
    due = run_cli("upgrade", str(alpha), "--check", "--vcs-ref", y)
    assert due.returncode == 1, due.stdout + due.stderr
    assert "template" in due.stdout and y in due.stdout
    report = _check(alpha, "--vcs-ref", y)
    assert report["status"] == "due" and report["target"]["template"] == y
    assert [change["what"] for change in report["changes"]] == ["template"]
    assert _check(alpha)["status"] == "due", "copier, given no version, takes HEAD (Y) of an untagged template"
    assert _check(bravo, "--vcs-ref", x)["status"] == "due"  # the other way: made at Y, asked for X

    # Checked against the version it records: current, and --yes writes nothing.
    current = run_cli("upgrade", str(alpha), "--check", "--vcs-ref", x[:10])
    assert current.returncode == 0 and "is current" in current.stdout, current.stdout + current.stderr
    assert _check(bravo)["status"] == "current" and _check(bravo, "--vcs-ref", "HEAD")["status"] == "current"
    same = run_cli("upgrade", str(alpha), "--yes", "--trust", "--vcs-ref", x)
    assert same.returncode == 0 and "Nothing to regenerate" in same.stdout, same.stdout + same.stderr
    assert git(alpha, "status", "--porcelain") == ""

    # Where the check said due, --yes regenerates: the second commit's line comes in, the answers record Y.
    done = run_cli("upgrade", str(alpha), "--yes", "--trust", "--vcs-ref", y)
    assert done.returncode == 0, done.stdout + done.stderr
    assert NEW_LINE in (alpha / "README.md").read_text()
    # Parsed, not matched as text: a short hash of digits only is written quoted ('2904064').
    assert y.startswith(str(yaml.safe_load((alpha / ".copier-answers.yml").read_text())["_commit"]))
    git(alpha, "commit", "-qam", "upgraded to the second commit")

    # Day two: checked again, current either way, and --yes has nothing to do.
    assert _check(alpha, "--vcs-ref", y)["status"] == "current" and _check(alpha)["status"] == "current"
    again = run_cli("upgrade", str(alpha), "--yes", "--trust", "--vcs-ref", y)
    assert again.returncode == 0 and "Nothing to regenerate" in again.stdout, again.stdout + again.stderr
    assert git(alpha, "status", "--porcelain") == ""

    # The fleet follows the same rule: charlie (at X) due, alpha and bravo (at Y) current; --yes upgrades charlie alone.
    check = run_cli("upgrade", str(projects), "--all", "--check", "--json", "--vcs-ref", y)
    assert check.returncode == 1, check.stdout + check.stderr
    statuses = {os.path.basename(p["project"]): p["status"] for p in json.loads(check.stdout)["projects"]}
    assert statuses == {"alpha": "current", "bravo": "current", "charlie": "due"}
    fleet = run_cli("upgrade", str(projects), "--all", "--yes", "--trust", "--json", "--vcs-ref", y)
    assert fleet.returncode == 0, fleet.stdout + fleet.stderr
    statuses = {os.path.basename(p["project"]): p["status"] for p in json.loads(fleet.stdout)["projects"]}
    assert statuses == {"alpha": "current", "bravo": "current", "charlie": "upgraded"}
    assert NEW_LINE in (charlie / "README.md").read_text()
    assert git(alpha, "status", "--porcelain") == "" and git(bravo, "status", "--porcelain") == ""
    git(charlie, "commit", "-qam", "upgraded to the second commit")
    table = run_cli("upgrade", str(projects), "--all", "--check", "--vcs-ref", y)
    assert table.returncode == 0 and "3 current" in table.stdout, table.stdout + table.stderr
    assert run_cli("upgrade", str(projects), "--all", "--check").returncode == 0


@pytest.mark.reliability
def test_r294_an_untagged_template_given_no_version_renders_head_saying_nothing_of_tags(start_emulator, template_repo, tmp_path):
    """new --template and upgrade of a template with no tag, no --vcs-ref: copier's choice (HEAD) is rendered, and
    copier's "No git tags found in template; using HEAD as ref" is not printed (before: once in new, three times in
    an upgrade, once a clone). (Review dayfour, finding 3.)"""
    repo = tmp_path / "untagged"
    shutil.copytree(template_repo, repo)
    info = start_emulator().info()
    args, env = with_credentials(info)
    made = run_cli("new", str(tmp_path / "team"), "--arm-endpoint", info["arm_endpoint"], "--root-ca", info["ca_cert"], *args,
                   "--non-interactive", "--samples", "resource_groups", "--template", str(repo), env=env)
    assert made.returncode == 0 and "No git tags" not in made.stderr, made.stderr
    project = tmp_path / "team"
    head = git(repo, "rev-parse", "HEAD").strip()
    assert head.startswith(str(yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"]))
    with (repo / "template" / "README.md.jinja").open("a", encoding="utf-8") as readme:  # the template moves on
        readme.write(f"\n{NEW_LINE}\n")
    git(repo, "commit", "-qam", "the second commit")
    y = git(repo, "rev-parse", "HEAD").strip()
    for mode in ("--dry-run", "--yes"):
        upgraded = run_cli("upgrade", str(project), mode, "--trust", env=env)
        assert upgraded.returncode == 0 and "No git tags" not in upgraded.stderr, upgraded.stdout + upgraded.stderr
        assert f"template  {head[:7]} -> HEAD" in upgraded.stdout, upgraded.stdout  # the plan names the version
    assert NEW_LINE in (project / "README.md").read_text()
    assert y.startswith(str(yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"]))


@pytest.mark.reliability
def test_r251_a_template_that_cannot_be_listed_is_cannot_tell(start_emulator, template_repo, tmp_path):
    """The project's template moved away: which version copier would take cannot be told, so --check exits 2 with one
    line (never "current"), --yes writes nothing, and the fleet reports it failed alone."""
    repo = tmp_path / "template-versions"
    shutil.copytree(template_repo, repo)
    info = start_emulator().info()
    project = tmp_path / "projects" / "alpha"
    new_project(info, project, repo)
    _commit_all(project, "generated")
    repo.rename(tmp_path / "moved")
    code, _, err = cli("upgrade", str(project), "--check")
    assert code == 2
    one_error(code, err, f"cannot list the versions of the template {repo} (_src_path in the project's answers file)")
    code, _, err = cli("upgrade", str(project), "--yes", "--trust")
    one_error(code, err, "cannot list the versions of the template")
    assert git(project, "status", "--porcelain") == ""
    fleet = run_cli("upgrade", str(project.parent), "--all", "--check", "--json")
    assert fleet.returncode == 2 and json.loads(fleet.stdout)["projects"][0]["status"] == "failed"


@pytest.mark.reliability
def test_the_version_an_upgrade_renders_and_whether_it_moves(tmp_path):
    """azs-scaffold's own template is looked up in its bundle (this installation's version unless --vcs-ref names
    another); another template where the project records it, with copier's choice when none is named."""
    repo = tmp_path / "template-repo"
    (repo / "template").mkdir(parents=True)
    (repo / "copier.yml").write_text("_subdirectory: template\n")
    (repo / "template" / "file.txt").write_text("one\n")
    _commit_all(repo, "v1")
    git(repo, "tag", "v1")
    (repo / "template" / "file.txt").write_text("two\n")
    git(repo, "commit", "-qam", "after v1")
    head = git(repo, "rev-parse", "HEAD").strip()
    bundle = tmp_path / "at-head" / BUNDLE_NAME  # named as an installation's: new and upgrade render from its clone
    bundle.parent.mkdir()
    git(repo, "bundle", "create", "-q", str(bundle), "HEAD", "--tags")
    ours = TemplateSource(str(bundle), "HEAD")
    at_head = f"v1-1-g{head[:7]}"

    assert template_target({"_commit": at_head}, ours, "HEAD") == ("HEAD", False)  # --vcs-ref naming the recorded one
    assert template_target({"_commit": at_head}, ours, head[:10]) == (head[:10], False)
    assert template_target({"_commit": "v1"}, ours, "v1") == ("v1", False)
    assert template_target({"_commit": "v1"}, ours, "HEAD") == ("HEAD", True)
    assert template_target({"_commit": at_head}, ours, "v1") == ("v1", True)
    assert template_target({"_commit": at_head}, ours, "no-such-tag") == ("no-such-tag", True)  # copier says what is wrong
    # No --vcs-ref: this installation's version (the bundle's HEAD), named as copier records it in _commit (git describe
    # --tags --always); before, the package version (v0.0.1.dev485+g5ec0cd4de), which spelled a current project's
    # version two ways (current "5ec0cd4", target that) and named no tag that exists. (Review dayfour, finding 12.)
    assert template_target({"_commit": at_head}, ours, None) == (at_head, False)
    assert template_target({"_commit": head[:7]}, ours, None) == (at_head, False)  # recorded before v1 was tagged
    assert template_target({"_commit": "v1"}, ours, None) == (at_head, True)
    assert template_target({"_commit": ""}, ours, None) == (at_head, True)

    other = {"_src_path": str(repo), "_commit": "v1"}
    assert template_target(other, None, None) == ("v1", False)  # copier takes the latest release tag
    assert template_target(other, None, "HEAD") == ("HEAD", True)
    assert template_target({**other, "_commit": at_head}, None, "HEAD") == ("HEAD", False)
    assert template_target({**other, "_commit": ""}, None, "v1") == ("v1", True)  # nothing recorded: copier tells
    (repo / "template" / "file.txt").write_text("three, not committed\n")
    assert template_target({**other, "_commit": at_head}, None, "HEAD") == ("HEAD", True)  # copier renders them at HEAD
    assert template_target({**other, "_commit": at_head}, None, head) == (head, False)
    plain = tmp_path / "plain-folder"
    plain.mkdir()
    assert template_target({"_src_path": str(plain), "_commit": "v1"}, None, None) == (None, False)  # no versions
    with pytest.raises(TemplateSourceError, match="cannot list the versions of the template"):
        template_target({"_src_path": str(tmp_path / "gone.git"), "_commit": "v1"}, None, None)
    git(repo, "tag", "v2")
    (tmp_path / "tagged").mkdir()
    git(repo, "bundle", "create", "-q", str(tmp_path / "tagged" / BUNDLE_NAME), "HEAD", "--tags")
    tagged = TemplateSource(str(tmp_path / "tagged" / BUNDLE_NAME), "HEAD")
    assert template_target({"_commit": at_head}, tagged, None) == ("v2", False)  # copier records the tag where there is one


def test_the_latest_release_is_the_one_copier_takes(tmp_path):
    """latest_release over a repository's tags picks what copier's own get_latest_tag picks."""
    repo = tmp_path / "tags"
    repo.mkdir()
    (repo / "file").write_text("x\n")
    _commit_all(repo, "first")
    assert latest_release([]) == get_latest_tag(str(repo)) == "HEAD"
    for tag in ("v1.0.0", "1.10.0", "v1.9.0", "v2.0.0rc1", "nightly", "release-3"):
        git(repo, "tag", tag)
    tags = git(repo, "tag").split()
    assert latest_release(tags) == get_latest_tag(str(repo)) == "1.10.0"


@pytest.mark.reliability
def test_r271_an_upgrade_that_leaves_conflicts_exits_1_and_the_next_finds_nothing_to_do(start_emulator, template_repo, tmp_path):
    """The team's line where the template adds its own: copier's merge leaves markers. ``upgrade --yes`` lists them
    and exits 1, as ``--all --yes`` does, so ``upgrade --yes && git commit -am ...`` never commits markers; resolved
    and committed, the project is current and the next upgrade has nothing to do."""
    repo = tmp_path / "template-versions"
    x, y = _two_commits(template_repo, repo)
    info = start_emulator().info()
    project = tmp_path / "project"
    new_project(info, project, repo, vcs_ref=x)
    _commit_all(project, "generated")
    with (project / "README.md").open("a", encoding="utf-8") as readme:
        readme.write("\nThe team's own closing line.\n")
    git(project, "commit", "-qam", "team: a closing line")

    result = run_cli("upgrade", str(project), "--yes", "--trust", "--vcs-ref", y)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Conflicts to resolve" in result.stdout and "README.md" in result.stdout.split("Conflicts to resolve")[1]
    one_error(result.returncode, result.stderr, "the upgrade left 1 conflict(s) to resolve")
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert "<<<<<<<" in readme and NEW_LINE in readme and "The team's own closing line." in readme

    # Day two: the team keeps both lines, commits; checked again it is current, and --yes has nothing to do.
    kept = "\n".join(line for line in readme.splitlines() if not line.startswith(("<<<<<<<", "=======", ">>>>>>>")))
    (project / "README.md").write_text(kept + "\n", encoding="utf-8")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "upgrade resolved")
    assert _check(project, "--vcs-ref", y)["status"] == "current"
    again = run_cli("upgrade", str(project), "--yes", "--trust", "--vcs-ref", y)
    assert again.returncode == 0 and "Nothing to regenerate" in again.stdout, again.stdout + again.stderr
