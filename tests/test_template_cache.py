"""The user cache of template clones is pruned (``generator/templating/template_cache.py``): when a run makes a new
clone, the clones unused for a month go; one in use, half-made or behind a link never does. Real bundles and real
``git clone``s, one process per run as users start them, clones aged with ``os.utime``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator.templating.template_cache import LOCK, UNUSED_FOR, CacheError
from generator.templating.template_source import BUNDLE_NAME, CLONE_NAME, TemplateSource, reusable_clone
from tests.helpers import git

# One run using a bundle's clone, as `new` does: the clone, then a clone of it (what copier makes per project).
USE = """
import subprocess, sys
from generator.templating.template_source import TemplateSource, reusable_clone
clone = reusable_clone(TemplateSource(sys.argv[1], "HEAD"))
subprocess.run(["git", "clone", "-q", "--", clone.src, sys.argv[2]], check=True)
print(clone.src, clone.ref, flush=True)
sys.stdin.read()  # held (in use) until the test closes stdin
"""

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no file locks there: nothing is pruned")


def _bundles(tmp_path: Path, count: int) -> list[tuple[Path, str]]:
    """``count`` bundles of a small template repository, each of another commit (so another digest): (bundle, commit)."""
    repo = tmp_path / "template-repo"
    (repo / "template").mkdir(parents=True)
    (repo / "copier.yml").write_text("_subdirectory: template\n")
    git(repo, "init", "-q")
    made = []
    for number in range(count):
        (repo / "template" / "release.txt").write_text(f"release {number}\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", f"release {number}")
        bundle = tmp_path / f"dist-{number}" / BUNDLE_NAME
        bundle.parent.mkdir()
        git(repo, "bundle", "create", "-q", str(bundle), "HEAD")
        made.append((bundle, git(repo, "rev-parse", "HEAD").strip()))
    return made


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "XDG_CACHE_HOME": str(cache)}


def _start(bundle: Path, cache: Path, copy: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", USE, str(bundle), str(copy)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(cache))


def _run(bundle: Path, cache: Path, copy: Path) -> Path:
    """One run to its end; the clone it used."""
    result = subprocess.run([sys.executable, "-c", USE, str(bundle), str(copy)], input="", capture_output=True, text=True,
                            env=_env(cache), timeout=120)
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.split()[0])


def _whole(clone: Path, commit: str) -> None:
    assert git(clone, "rev-parse", "HEAD").strip() == commit
    git(clone, "fsck", "--no-dangling")


def _age(folder: Path, days: float) -> None:
    """The clone folder last used ``days`` ago (its lock file's time, or the folder's where it has none)."""
    when = time.time() - days * 24 * 3600
    lock = folder / LOCK
    os.utime(lock if lock.exists() else folder, (when, when))


def test_clones_unused_for_a_month_go_when_a_new_one_is_made(tmp_path):
    cache = tmp_path / "cache"
    bundles = _bundles(tmp_path, 4)
    folders = [_run(bundle, cache, tmp_path / f"copy-{n}").parent for n, (bundle, _) in enumerate(bundles[:3])]
    clones = folders[0].parent
    assert all((folder / LOCK).is_file() for folder in folders) and UNUSED_FOR == 30 * 24 * 3600
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the cache's\n")
    (folders[0] / CLONE_NAME / "link-out").symlink_to(outside)  # inside a clone to remove: never followed
    (clones / ("f" * 32)).symlink_to(outside)  # a link named like a clone: neither followed nor removed
    (folders[1] / LOCK).unlink()  # a clone an earlier release made: no lock file, the folder's time tells
    _age(folders[0], 40)
    _age(folders[1], 31)
    _age(folders[2], 10)
    leftover = clones / ".removing-0123-dead"  # what a run killed while deleting left aside: never a clone
    (leftover / CLONE_NAME / ".git").mkdir(parents=True)

    newest = _run(bundles[3][0], cache, tmp_path / "copy-3")
    _whole(newest, bundles[3][1])
    assert not folders[0].exists() and not folders[1].exists(), "unused for 40 and 31 days"
    _whole(folders[2] / CLONE_NAME, bundles[2][1])  # used 10 days ago: kept
    assert (outside / "keep.txt").read_text() == "not the cache's\n" and (clones / ("f" * 32)).is_symlink()
    assert sorted(path.name for path in clones.iterdir()) == sorted([folders[2].name, newest.parent.name, "f" * 32])

    # Day two: the release whose clone went is used again: cloned anew, whole.
    again = _run(bundles[0][0], cache, tmp_path / "copy-0-again")
    assert again.parent == folders[0]
    _whole(again, bundles[0][1])
    _whole(folders[2] / CLONE_NAME, bundles[2][1])  # reusing a clone prunes nothing: 10 days is not a month


@pytest.mark.reliability
def test_r252_a_clone_in_use_is_never_removed_and_concurrent_runs_each_get_a_whole_one(tmp_path):
    cache = tmp_path / "cache"
    bundles = _bundles(tmp_path, 8)
    (old, old_commit), fresh = bundles[0], bundles[1:]
    holder = _start(old, cache, tmp_path / "held-copy")
    held = Path(holder.stdout.readline().split()[0])  # type: ignore[union-attr]
    _age(held.parent, 40)  # a long run, say: unused for 40 days by the lock file's time, but in use right now
    _whole(_run(fresh[0][0], cache, tmp_path / "copy-new-0"), fresh[0][1])
    _whole(held, old_commit)
    holder.communicate("", timeout=60)
    assert holder.returncode == 0

    # Its run has ended: the clone is unused for 40 days. Runs start at once, making new clones (each prunes) and
    # reusing the old one: whichever comes first, each run gets a whole clone, and the old one is whole after.
    for round_number, (bundle, commit) in enumerate(fresh[1:4]):
        _age(held.parent, 40)
        runs = [(_start(old, cache, tmp_path / f"copy-old-{round_number}"), old_commit),
                (_start(bundle, cache, tmp_path / f"copy-{round_number}"), commit),
                (_start(fresh[round_number + 4][0], cache, tmp_path / f"copy-b-{round_number}"), fresh[round_number + 4][1])]
        for process, expected in runs:
            out, err = process.communicate("", timeout=120)
            assert process.returncode == 0, err
            _whole(Path(out.split()[0]), expected)
        _whole(held, old_commit)
        assert not any(path.name.startswith(".removing-") for path in held.parent.parent.iterdir())
    copies = sorted(tmp_path.glob("copy-*"))
    assert len(copies) == 10 and all(git(copy, "rev-parse", "HEAD").strip() for copy in copies)


@pytest.mark.reliability
def test_r253_a_lock_file_that_is_a_link_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ((bundle, _),) = _bundles(tmp_path, 1)
    first = Path(reusable_clone(TemplateSource(str(bundle), "HEAD")).src).parent
    other = tmp_path / "elsewhere.txt"
    other.write_text("someone else's\n")
    moved = tmp_path / "cache-2" / "azs-scaffold" / "templates" / "clones" / first.name
    moved.mkdir(parents=True)
    (moved / LOCK).symlink_to(other)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-2"))
    with pytest.raises(CacheError, match=f"cannot use the template cache {moved} .*; remove {moved / LOCK}"):
        reusable_clone(TemplateSource(str(bundle), "HEAD"))
    assert other.read_text() == "someone else's\n" and not (moved / CLONE_NAME).exists()


def test_a_checkouts_bundles_unused_for_a_month_go_when_a_new_commit_is_bundled(tmp_path):
    """An editable checkout's bundle of its HEAD (one per commit) is pruned by the same rule as the clones."""
    checkout = tmp_path / "checkout"
    (checkout / "template").mkdir(parents=True)
    (checkout / "copier.yml").write_text("_subdirectory: template\n")
    git(checkout, "init", "-q")
    cache = tmp_path / "cache"
    bundle_of = ("import sys; from pathlib import Path; from generator.templating.template_source import _checkout_bundle; "
                 "print(_checkout_bundle(Path(sys.argv[1])))")
    bundles = []
    for number in range(3):
        (checkout / "template" / "release.txt").write_text(f"commit {number}\n")
        git(checkout, "add", "-A")
        git(checkout, "commit", "-qm", f"commit {number}")
        made = subprocess.run([sys.executable, "-c", bundle_of, str(checkout)], capture_output=True, text=True,
                              env=_env(cache), timeout=120)
        assert made.returncode == 0, made.stderr
        bundles.append(Path(made.stdout.strip()))
        assert bundles[-1].parent.name == git(checkout, "rev-parse", "HEAD").strip()
        if number == 0:
            _age(bundles[0].parent, 40)
    assert not bundles[0].parent.exists(), "unused for 40 days when the second commit was bundled"
    assert all(bundle.is_file() for bundle in bundles[1:])
    git(checkout, "bundle", "verify", "-q", str(bundles[2]))
    assert sorted(path.name for path in (cache / "azs-scaffold" / "templates").iterdir()) == \
        sorted([bundles[1].parent.name, bundles[2].parent.name])  # no clones/ made: nothing but the bundles


def test_a_clone_that_fails_says_gits_reason_not_its_detached_head_advice(tmp_path, monkeypatch):
    """A bundle's HEAD is checked out as a commit: git advises on "detached HEAD" state (14 lines, even with -q). Where
    the clone then fails (here a post-checkout hook of the user's global hooksPath, as git-lfs installs one), the one
    line says git's reason; before, the advice filled it ("Note: switching to '<hash>'. You are in 'detached HEAD'...")."""
    from generator._util.git import GitError

    ((bundle, _),) = _bundles(tmp_path, 1)
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "post-checkout").write_text('#!/bin/sh\necho "post-checkout: object abc missing" >&2\nexit 1\n')
    (hooks / "post-checkout").chmod(0o755)
    (tmp_path / "gitconfig").write_text(f"[core]\n\thooksPath = {hooks}\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(GitError) as refused:
        reusable_clone(TemplateSource(str(bundle), "HEAD"))
    assert str(refused.value).startswith("git clone failed in "), refused.value
    assert str(refused.value).endswith(": post-checkout: object abc missing"), refused.value
    # Without the hook, the same bundle clones (nothing else in the way).
    (hooks / "post-checkout").unlink()
    assert (Path(reusable_clone(TemplateSource(str(bundle), "HEAD")).src) / "copier.yml").is_file()
