"""Where copier finds the template: the bundle this installation carries, or the checkout it runs from.

An installed azs-scaffold (wheel, sdist, git URL; pip or pipx) carries ``generator/_template/``: the
template's files and a git bundle of its history (``hatch_build.py``). copier renders from the bundle,
so every project records a template commit (``_commit``) that exists in this and every later release,
and ``azs-scaffold upgrade`` finds the old version for copier's three-way merge offline.

An editable checkout gets a bundle of its HEAD made on demand in the user cache: uncommitted template
changes are refused rather than recorded as a commit that exists nowhere.

``new`` and a batch render from a clone of the bundle kept in the user cache (:func:`reusable_clone`), which copier
clones per project by hard links, where each clone of the bundle would unpack its whole history again; the commit
recorded is the same. Clones and bundles unused for a month are removed when a new one is made (``template_cache``).

Projects record :func:`public_url` as their template source (``_src_path``), never a path in someone's
cache: the answers file renders a bundle path (or that clone's) as that URL (``azs_template_url``), so a teammate's
``azs-scaffold upgrade`` uses their own installation, and ``copier update`` fetches the URL.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from generator._util.git import git
from generator.errors import ScaffoldError
from generator.templating.template_cache import BUNDLE_FOLDER, CLONE_FOLDER, cache_dir, clones_dir, hold, prune_unused

DISTRIBUTION = "azs-scaffold"
BUNDLE_NAME = "azs-scaffold-template.bundle"
# A bundle cloned once for many renders (a batch): copier clones this repository, by hard links, for each project.
CLONE_NAME = "azs-scaffold-template.clone"
TEMPLATE_FILES = ("copier.yml", "template")
PACKAGE = Path(__file__).resolve().parent.parent  # generator/


class TemplateSourceError(ScaffoldError):
    """The template cannot be found or read."""


@dataclass(frozen=True)
class TemplateSource:
    """What copier is handed (``src``), and the version it renders unless told otherwise (``ref``)."""

    src: str
    ref: str | None


@lru_cache(maxsize=1)
def public_url() -> str:
    """Where azs-scaffold is published, as git clones it: what projects made by an installed azs-scaffold record.

    It is the ``Repository`` of ``[project.urls]`` in pyproject.toml, read from the installed distribution's metadata
    (a fork that publishes elsewhere changes that one line), or from pyproject.toml itself in a checkout that was
    never installed.
    """
    from importlib import metadata

    try:
        urls = metadata.metadata(DISTRIBUTION).get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        urls = _checkout_urls()
    for label, _, url in (entry.partition(",") for entry in urls):
        if label.strip().lower() == "repository" and url.strip():
            url = url.strip().rstrip("/")
            return url if url.endswith(".git") else url + ".git"
    raise TemplateSourceError(f"the {DISTRIBUTION} metadata names no Repository URL ([project.urls] in pyproject.toml); "
                        "reinstall azs-scaffold")


def _checkout_urls() -> list[str]:
    """``label, url`` of each [project.urls] entry of the checkout's pyproject.toml (no TOML parser on Python 3.10)."""

    try:
        text = (PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return []
    section = re.search(r"^\[project\.urls\]\s*$(.*?)(?=^\[|\Z)", text, re.MULTILINE | re.DOTALL)
    found = re.findall(r'^\s*"?([A-Za-z][\w .-]*?)"?\s*=\s*"([^"]+)"', section[1] if section else "", re.MULTILINE)
    return [f"{label}, {url}" for label, url in found]


def recorded_url(src_path: str) -> str:
    """The template source a project records: the public URL for one of our bundles (or its clone), else as given."""
    return public_url() if str(src_path).endswith((BUNDLE_NAME, CLONE_NAME)) else str(src_path)


def set_for_copier(name: str, value: str | None) -> None:
    """Set (or, with None, unset) ``name`` for copier's git calls, tasks and migrations.

    copier starts them through plumbum, whose environment is a copy of ``os.environ`` taken at import:
    both are changed.
    """
    from plumbum import local

    if value is None:
        os.environ.pop(name, None)
        local.env.pop(name, "")
    else:
        os.environ[name] = local.env[name] = value


@contextmanager
def copier_environment(**variables: str | None) -> Iterator[None]:
    """While inside, copier's git calls, tasks and migrations see ``variables``; restored after."""
    saved = {key: os.environ.get(key) for key in variables}
    for key, value in variables.items():
        set_for_copier(key, value)
    try:
        yield
    finally:
        for key, value in saved.items():
            set_for_copier(key, value)


@contextmanager
def public_url_served_from(bundle: str) -> Iterator[None]:
    """While inside, git fetches :func:`public_url` from ``bundle`` (offline), and copier keeps its mirror
    of it in a scratch folder (never in copier's own cache, where a later online run would find it)."""
    count = int(os.environ.get("GIT_CONFIG_COUNT") or 0)
    with tempfile.TemporaryDirectory(prefix="azs-template-") as scratch:
        with copier_environment(**{
            "GIT_CONFIG_COUNT": str(count + 1),
            f"GIT_CONFIG_KEY_{count}": f"url.{bundle}.insteadOf",
            f"GIT_CONFIG_VALUE_{count}": public_url(),
            "COPIER_CACHE_DIR": scratch,
        }):
            yield


def reusable_clone(source: TemplateSource) -> TemplateSource:
    """``source`` as copier renders it fastest: a bundle is cloned once (checked out) into the user cache, keyed by the
    bundle's digest, and copier then clones that repository by hard links for each project (a clone of the bundle itself
    unpacks its whole history again, each time); any other source is handed on as it is.

    The version stays the bundle's: ``HEAD`` is handed to copier as the commit it names, so that nothing written into
    the cached clone's files could reach a project (copier renders the uncommitted changes of a local ``HEAD``)."""
    if not source.src.endswith(BUNDLE_NAME):
        return source
    bundle = Path(source.src)
    digest = hashlib.sha256(bundle.read_bytes()).hexdigest()  # a megabyte or two: milliseconds
    clone = clones_dir() / digest[:32] / CLONE_NAME
    hold(clone.parent)  # in use until this process exits: no other run removes it meanwhile
    if not (clone / ".git").is_dir():
        # Made aside and renamed into place: a concurrent run never sees half a clone (the loser's is removed).
        scratch = Path(tempfile.mkdtemp(prefix=".partial-", dir=clone.parent))
        try:
            git(scratch, "clone", "-q", "--", str(bundle), str(scratch / CLONE_NAME))
            with contextlib.suppress(OSError):
                os.rename(scratch / CLONE_NAME, clone)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        prune_unused(clone.parent, CLONE_FOLDER)  # a new release's clone: those of releases unused for a month go
    ref = source.ref if source.ref not in (None, "HEAD") else git(clone, "rev-parse", "HEAD").strip()
    return TemplateSource(str(clone), ref)


def _checkout_bundle(checkout: Path) -> Path:
    """A bundle of the checkout's HEAD and tags, made once per HEAD in the user cache."""
    changed = git(checkout, "status", "--porcelain", "--untracked-files=all", "--", *TEMPLATE_FILES).splitlines()
    if changed:
        raise TemplateSourceError(
            f"the template in {checkout} has uncommitted changes ({changed[0][3:]}"
            f"{f' and {len(changed) - 1} more' if len(changed) > 1 else ''}); commit them first: "
            "a project records the template commit it came from, so that commit must exist"
        )
    head = git(checkout, "rev-parse", "HEAD").strip()
    bundle = cache_dir() / head / BUNDLE_NAME
    hold(bundle.parent)  # in use until this process exits: no other run removes it meanwhile
    if not bundle.exists():
        # Made aside and renamed into place: a concurrent run never sees half a bundle.
        fd, partial = tempfile.mkstemp(prefix=".partial-", suffix=".bundle", dir=bundle.parent)
        os.close(fd)
        try:
            git(checkout, "bundle", "create", "-q", partial, "HEAD", "--tags")
            os.replace(partial, bundle)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
        prune_unused(bundle.parent, BUNDLE_FOLDER)  # a new commit's bundle: those unused for a month go
    return bundle


def installed_template() -> TemplateSource:
    """This installation's template; fails in one line when there is none (before anything slow)."""
    if shutil.which("git") is None:
        raise TemplateSourceError("git is not installed; copier needs it to render the template: install git")
    carried = PACKAGE / "_template"
    if (carried / BUNDLE_NAME).is_file():
        if not (carried / "copier.yml").is_file():
            raise TemplateSourceError(f"this installation's template is incomplete ({carried} has no copier.yml); reinstall azs-scaffold")
        return TemplateSource(str(carried / BUNDLE_NAME), "HEAD")
    checkout = PACKAGE.parent
    if (checkout / "copier.yml").is_file() and (checkout / ".git").exists():
        return TemplateSource(str(_checkout_bundle(checkout)), "HEAD")
    raise TemplateSourceError(
        f"this installation of azs-scaffold carries no template (no {carried / BUNDLE_NAME}); "
        "reinstall it from a wheel, an sdist or the repository (pip install / pipx install), or pass --template"
    )


def resolve_template(template: str | None, vcs_ref: str | None) -> TemplateSource:
    """The source for ``--template``/``--vcs-ref`` as given, else this installation's; checked before discovery."""
    if not template:
        source = installed_template()
        return TemplateSource(source.src, vcs_ref or source.ref)
    local = Path(template).expanduser()
    looks_local = not any(template.startswith(p) for p in ("https://", "http://", "git@", "git+", "gh:", "gl:"))
    if looks_local:
        if not local.exists():
            raise TemplateSourceError(f"--template {template}: no such file or directory")
        if local.is_dir() and not (local / "copier.yml").is_file() and not (local / "copier.yaml").is_file():
            raise TemplateSourceError(f"--template {template}: no copier.yml there; give azs-scaffold's repository or template bundle")
        template = str(local.resolve())
    return TemplateSource(template, vcs_ref)
