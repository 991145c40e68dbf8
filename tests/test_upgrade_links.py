"""An upgrade renders the paths it would write (to refuse a symbolic link among them) only when a link is in reach."""

from __future__ import annotations

from pathlib import Path

from generator._util.git import git
from generator.operations.upgrade_guard import links_in_reach


def _repository(folder: Path) -> Path:
    (folder / "scripts").mkdir(parents=True)
    (folder / "scripts" / "lock.py").write_text("print('lock')\n")
    (folder / ".gitignore").write_text(".venv/\n")
    git(folder, "init", "-q")
    git(folder, "add", "-A")
    git(folder, "-c", "user.name=t", "-c", "user.email=t@invalid", "commit", "-qm", "first")
    return folder


def test_a_project_without_links_needs_no_rendering_and_ignored_links_are_out_of_reach(tmp_path):
    project = _repository(tmp_path / "p")
    assert not links_in_reach(project)
    (project / ".venv" / "bin").mkdir(parents=True)
    (project / ".venv" / "bin" / "python").symlink_to("/usr/bin/python3")  # every bootstrapped project has these
    (project / ".venv" / "lib64").symlink_to("lib")
    assert not links_in_reach(project)


def test_a_tracked_untracked_or_folder_link_is_in_reach(tmp_path):
    tracked = _repository(tmp_path / "tracked")
    (tracked / "README.md").symlink_to(tmp_path / "elsewhere.md")
    git(tracked, "add", "-A")
    git(tracked, "-c", "user.name=t", "-c", "user.email=t@invalid", "commit", "-qm", "a link")
    assert links_in_reach(tracked)

    untracked = _repository(tmp_path / "untracked")
    (untracked / "constraints.txt").symlink_to(tmp_path / "kept.txt")
    assert links_in_reach(untracked)

    folder = _repository(tmp_path / "folder")  # a tracked file's folder replaced by a link, not yet committed
    (tmp_path / "outside").mkdir()
    (folder / "scripts" / "lock.py").rename(tmp_path / "outside" / "lock.py")
    (folder / "scripts").rmdir()
    (folder / "scripts").symlink_to(tmp_path / "outside")
    assert links_in_reach(folder)


def test_outside_a_git_repository_a_link_is_assumed_in_reach(tmp_path):
    (tmp_path / "plain").mkdir()
    assert links_in_reach(tmp_path / "plain")
