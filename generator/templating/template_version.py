"""Which template version an upgrade renders, and whether it is the one a project records (its ``_commit``).

When nothing else changed (the Stack, the samples, the pins), that answer alone decides whether copier's update
would write anything: rendering the recorded version on both sides of its three-way merge writes nothing. It is
the one rule ``upgrade --check``, ``upgrade --yes`` and both with ``--all`` follow (``generator.operations.upgrade``).

- azs-scaffold's own template (the project records :func:`template_source.public_url`): this installation's
  version (its bundle's HEAD, named as copier records it in ``_commit``), or the ``--vcs-ref`` named, looked up in
  this installation's bundle (offline).
- another template: the ``--vcs-ref`` named, else the version copier's update takes when given none (its latest
  release tag, else the default branch's ``HEAD``), looked up with ``git ls-remote`` where the project records it.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from generator._util.git import GitError, git, git_output
from generator.templating.template_source import TemplateSource, TemplateSourceError, reusable_clone


def template_target(recorded: dict[str, Any], source: TemplateSource | None, vcs_ref: str | None) -> tuple[str | None, bool]:
    """The template version an upgrade renders (as the user would name it: a tag, a hash, ``HEAD``; this
    installation's as a project records it, :func:`installed_version`; None where there is none to name) and whether
    it differs from the one the project records (``recorded["_commit"]``).

    ``source`` is this installation's template when the project records azs-scaffold's own, else None.
    """
    commit = str(recorded.get("_commit") or "")
    if source is not None:
        if vcs_ref is None:
            clone = reusable_clone(source)  # what new and upgrade render from: its HEAD, as a commit
            return installed_version(clone), not names_commit(clone.src, clone.ref or "HEAD", commit)
        return vcs_ref, not names_commit(source.src, vcs_ref, commit)
    from copier._vcs import get_repo  # copier's own reading of a template's address (gh:, git+https:, a path)

    src = str(recorded.get("_src_path") or "")
    url = get_repo(src)
    if url is None:
        if src and Path(src).expanduser().is_dir():
            return None, False  # a folder, no git repository: copier has no version of it to move to
        raise _unlisted(recorded, "no git repository or folder there")
    refs = _refs(url, recorded)
    target = vcs_ref or latest_release(name.removeprefix("refs/tags/") for name in refs if name.startswith("refs/tags/"))
    if target == "HEAD" and Path(url).is_dir() and git_output(Path(url), "status", "--porcelain", check=False)[1].strip():
        return target, True  # copier renders a local template's uncommitted changes at HEAD (as a commit of its own)
    return target, not commit or not names_commit(url, target, commit, refs)


def installed_version(clone: TemplateSource) -> str:
    """This installation's template version in the form a project records it as ``_commit``: what copier's ``git
    describe --tags --always`` says of the commit the bundle renders (a tag, TAG-N-gHASH, or the short hash), asked
    in the bundle's clone (``reusable_clone``) that ``new`` renders from. Never the package version
    (``0.0.1.dev485+g5ec0cd4de``), which names no tag and would spell one version two ways beside ``_commit``."""
    return git(Path(clone.src), "describe", "--tags", "--always", clone.ref or "HEAD").strip()


def latest_release(tags: Any) -> str:
    """The version copier's update takes when given none: the highest tag that is a PEP 440 release (no
    pre-release; copier's ``get_latest_tag``), else ``HEAD``."""
    from packaging.version import InvalidVersion, Version

    releases = []
    for tag in tags:
        try:
            version = Version(tag)
        except InvalidVersion:
            continue
        if not version.is_prerelease:
            releases.append((version, tag))
    return max(releases)[1] if releases else "HEAD"


def names_commit(url: str, vcs_ref: str, recorded: str, refs: dict[str, str] | None = None) -> bool:
    """Whether ``vcs_ref`` (a tag, a branch, HEAD or a commit's hash) names, in the repository or bundle at ``url``,
    the commit a project records as ``_commit`` (what ``git describe --tags`` said when copier rendered it: a tag, or
    TAG-N-gHASH, or a HASH). ``refs``: the repository's, when listed already."""
    if refs is None:
        code, listed = _ls_remote(url)
        refs = _parsed(listed) if code == 0 else {}
    described = re.fullmatch(r"(?:.*-g)?([0-9a-f]{7,40})", recorded)
    wanted = next((refs[name] for name in (vcs_ref, f"refs/tags/{vcs_ref}", f"refs/heads/{vcs_ref}") if name in refs),
                  vcs_ref if re.fullmatch(r"[0-9a-f]{7,40}", vcs_ref) else None)
    if wanted is None:
        return False  # not found there: copier says what is wrong with it
    recorded_commit = refs.get(f"refs/tags/{recorded}") or (described[1] if described else "")
    return bool(recorded_commit) and (wanted.startswith(recorded_commit) or recorded_commit.startswith(wanted))


def _ls_remote(url: str) -> tuple[int, str]:
    # Run outside any repository: the project's or the user's working folder has no say in what is listed.
    return git_output(Path(tempfile.gettempdir()), "ls-remote", "--", url, check=False)


def _parsed(listed: str) -> dict[str, str]:
    refs = {}
    for line in listed.splitlines():
        commit, _, name = line.partition("\t")
        refs[name.removesuffix("^{}")] = commit  # a tag's peeled line (its commit) comes after the tag's own
    return refs


def _refs(url: str, recorded: dict[str, Any]) -> dict[str, str]:
    """The refs of another template's repository; a one-line error when git cannot list them."""
    try:
        return _parsed(git(Path(tempfile.gettempdir()), "ls-remote", "--", url))
    except GitError as error:
        raise _unlisted(recorded, str(error)) from None


def _unlisted(recorded: dict[str, Any], why: str) -> TemplateSourceError:
    return TemplateSourceError(
        f"cannot list the versions of the template {recorded.get('_src_path')} (_src_path in the project's answers "
        f"file): {why}; check that it is reachable from here (or correct _src_path), then run again")
