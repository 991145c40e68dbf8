"""``run_upgrade``: re-discover the Stack a generated project points at, show what changes, and
regenerate with ``copier update`` so that the team's edits are kept (three-way merge).

The project supplies everything discovery needs: its recorded answers, its own root CA
(``certs/azure-stack-root.pem``) and its service principal file (or ``AZURE_CLIENT_SECRET``). What the
upgrade may write is ``upgrade_guard``'s rule: never the service principal file, the CA file or a git-ignored
path; another template only with ``--trust``; nothing through a symbolic link.

``python -m generator.operations.upgrade refresh-answers`` is the template's before-stage migration: it makes a
plain ``copier update --trust --defaults`` refresh the discovered answers the same way.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from generator import __version__, catalog
from generator._util.files import LinksOutside, read_project_file, temporary_files_in, why_unreadable
from generator._util.git import git, git_output, worked_on_alone
from generator._util.interrupts import held_interrupts
from generator.catalog.lock import read_requirements_file
from generator.discovery import DiscoveryRequest, ServicePrincipal, StackDiscovery, discover_stack
from generator.discovery.http import one_line
from generator.errors import ScaffoldError
from generator.operations.upgrade_guard import UpgradeError, never_written, refuse_links, refuse_untrusted
from generator.templating.answers import MATERIAL, SECRET_ENV, discovery_answers
from generator.templating.project_files import ANSWERS_FILE, CA_FILE, REFRESHED_ENV, read_answers, write_answers
from generator.templating.secret_files import SP_FILES
from generator.templating.template_source import (
    TemplateSource,
    copier_environment,
    installed_template,
    public_url,
    public_url_served_from,
    recorded_url,
    reusable_clone,
)
from generator.templating.template_version import template_target

Progress = Callable[[str], None]
MAX_SP_FILE_BYTES = 64 * 1024  # a few hundred bytes of JSON


@dataclass
class UpgradePlan:
    """What an upgrade would change, computed before anything is written."""

    project: Path
    recorded: dict[str, Any]
    fresh: dict[str, Any]
    found: StackDiscovery
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (what, now, after)
    # This installation's template, when the project records azs-scaffold's published one.
    source: TemplateSource | None = None
    template: str | None = None  # the template version the upgrade renders (template_version.template_target)

    @property
    def due(self) -> bool:
        """Whether copier's update is to run: the one rule ``upgrade --check``, ``upgrade --yes`` and both with
        ``--all`` follow, so that a check never says other than what the upgrade then does.

        Not when copier would render both sides of its three-way merge alike and so write nothing: the Stack, the
        samples, the pins are as the project records them, and the template version the upgrade renders (``vcs_ref``
        given to :func:`plan_upgrade`, else this installation's, or for another template the one copier takes) is the
        recorded one (``template_version.template_target``; else the plan lists a "template" change).
        """
        return bool(self.changes)


def _read_sp_config(project: Path) -> dict[str, Any]:
    """The project's service principal file as a dict; empty when it has none."""
    for name in SP_FILES:
        path = project / name
        if path.exists() or path.is_symlink():
            try:
                config = json.loads(read_project_file(project, name, MAX_SP_FILE_BYTES).decode("utf-8"))
            except OSError as error:
                raise UpgradeError(f"{path}{why_unreadable(error)}; fix it, or pass --client-id and a secret") from None
            except ValueError:
                raise UpgradeError(f"{path} is not valid JSON; fix it, or pass --client-id and a secret") from None
            if not isinstance(config, dict):
                raise UpgradeError(f"{path} is not a JSON object with clientId, clientSecret, ...; fix it, or pass --client-id and a secret")
            return config
    return {}


def _principal(project: Path, sp: dict[str, Any]) -> ServicePrincipal | None:
    cert = Path(sp["certPath"]) if sp.get("certPath") else None
    return ServicePrincipal.from_credentials(sp.get("clientId"), certificate=str(project / cert) if cert else None,
                                             certificate_password=sp.get("certPass"),
                                             secret=sp.get("clientSecret") or os.environ.get(SECRET_ENV))


def discovery_request(project: Path, answers: dict[str, Any], given: DiscoveryRequest) -> DiscoveryRequest:
    """Discovery for the Stack the project points at: what ``given`` names, the rest from the project's files.

    A release recorded at generation is NOT reused: after a Stack upgrade it would be stale.
    """
    sp = _read_sp_config(project)
    endpoint = given.arm_endpoint or answers.get("resource_manager") or answers.get("arm_endpoint")
    if not endpoint:
        raise UpgradeError(f"{project / ANSWERS_FILE} records no Resource Manager endpoint; pass --arm-endpoint URL")
    return replace(
        given,
        arm_endpoint=endpoint,
        root_ca=given.root_ca or (str(project / CA_FILE) if (project / CA_FILE).exists() else None),
        tenant=given.tenant or answers.get("tenant") or None,
        principal=given.principal or _principal(project, sp),
        subscription_id=given.subscription_id or answers.get("subscription_id") or sp.get("subscriptionId") or None,
        subscription_source=given.subscription_source if given.subscription_id else
        f"subscription_id in {ANSWERS_FILE}" if answers.get("subscription_id") else "subscriptionId in the service principal file",
    )


def _pins_in(project: Path) -> dict[str, str]:
    """The proven set's releases the project holds: constraints.txt (requirements.txt in projects from before it)."""
    name = "constraints.txt" if (project / "constraints.txt").exists() else "requirements.txt"
    path = project / name
    try:
        text = read_requirements_file(project, name) if path.exists() or path.is_symlink() else ""
    except LinksOutside as error:
        raise UpgradeError(f"{name} is a symbolic link in {project} to {error.target}, outside the project: an "
                           "upgrade reads and writes only inside it; replace each link with the file it points to, commit, "
                           "and run again") from None
    except OSError as error:
        raise UpgradeError(f"{path}{why_unreadable(error)}; restore it from git") from None
    return dict(re.findall(r"^\s*([A-Za-z0-9_.-]+)==([^\s#;]+)", text, re.MULTILINE))


def _changes(project: Path, recorded: dict[str, Any], fresh: dict[str, Any]) -> list[tuple[str, str, str]]:
    changes = []
    for key in MATERIAL:
        if key in ("stack_release", "stack_build") and not fresh.get(key):
            continue  # an unknown release is no news
        if str(recorded.get(key, "")) != str(fresh.get(key, "")):
            changes.append((key, str(recorded.get(key, "")), str(fresh.get(key, ""))))
    for key in CHOSEN:  # what the team chose to gain or drop (upgrade --samples / --ci)
        if key in fresh and list(fresh[key]) != list(recorded.get(key) or []):
            changes.append((key, ",".join(recorded.get(key) or []) or "-", ",".join(fresh[key]) or "-"))
    samples = tuple(fresh.get("samples") or recorded.get("samples") or catalog.DEFAULT_SAMPLES)
    pinned = _pins_in(project)
    for pin in catalog.packages_for(samples, str(fresh.get("profile"))):
        if pinned.get(pin.package) != pin.version:
            changes.append((pin.package, pinned.get(pin.package, "-"), pin.version))
    old, new = str(recorded.get("profile")), str(fresh.get("profile"))
    if old != new and old in catalog.PROFILES and new in catalog.PROFILES:
        old_versions, new_versions = catalog.PROFILES[old].api_versions, catalog.PROFILES[new].api_versions
        for client in catalog.clients_for(samples):
            changes.append((f"{client} api-version", old_versions.get(client, "-"), new_versions.get(client, "-")))
    return changes


def template_for(recorded: dict[str, Any]) -> TemplateSource | None:
    """This installation's template for a project that records azs-scaffold's published one (else copier
    fetches what the project records)."""
    return installed_template() if recorded_url(recorded.get("_src_path", "")) == public_url() else None


# The answers a team may change on upgrade: which samples and CI definitions the project carries.
CHOSEN = ("samples", "ci")


def plan_upgrade(project_dir: str, given: DiscoveryRequest | None = None, progress: Progress = lambda message: None,
                 chosen: dict[str, tuple[str, ...]] | None = None, vcs_ref: str | None = None) -> UpgradePlan:
    """Re-discover and compare; writes nothing. ``given`` holds discovery options that override the project's;
    ``chosen`` the samples or CI definitions the project is to carry from now on (:data:`CHOSEN`, validated);
    ``vcs_ref`` the template version to move to (``--vcs-ref``; default: this installation's, or copier's choice)."""
    project = Path(project_dir).expanduser().resolve()
    recorded = read_answers(project)
    source = template_for(recorded)
    given = given or DiscoveryRequest(arm_endpoint="")
    request = discovery_request(project, recorded, given)
    found = discover_stack(request, progress=progress)
    if not found.profile and request.principal is None:
        raise UpgradeError(
            f"cannot tell the Stack's API profile without signing in, and {project} holds no secret to sign in with "
            f"(its service principal file has none and {SECRET_ENV} is not set); set {SECRET_ENV}, pass --client-id with "
            "--client-secret-env, or pass --release"
        )
    if not found.profile:
        raise UpgradeError("cannot tell the Stack's API profile from what it serves; pass --release")
    fresh = discovery_answers(found)
    if not fresh["ca_cert_pem"]:
        fresh["ca_cert_pem"] = recorded.get("ca_cert_pem", "")
    fresh["stack_version"] = given.release or ""
    if not fresh.get("stack_release") and fresh.get("profile") == recorded.get("profile"):
        # The Stack does not say its release (no admin access): the one recorded (typed at generation) stands, as
        # _changes treats it ("an unknown release is no news"); azs-scaffold upgrade and copier update keep it alike.
        for key in ("stack_release", "stack_build", "stack_version"):
            fresh[key] = recorded.get(key, "") or fresh.get(key, "")
    if given.root_ca:
        fresh["ca_cert"] = str(Path(given.root_ca).resolve())
    fresh.update({key: list(names) for key, names in (chosen or {}).items() if key in CHOSEN})
    changes = _changes(project, recorded, fresh)
    template, moves = template_target(recorded, source, vcs_ref)
    if moves:
        changes.append(("template", str(recorded.get("_commit") or "-"), template or "-"))
    return UpgradePlan(project, recorded, fresh, found, changes, source, template)


def check_clean(project: Path) -> None:
    """Refuse a project that is not a git repository or has uncommitted changes (copier needs both)."""
    code, status = git_output(project, "status", "--porcelain", check=False)
    if code != 0:
        raise UpgradeError(f"{project} is not a git repository; run `git init && git add -A && git commit -m generated` first")
    if status.strip():
        raise UpgradeError(f"{project} has uncommitted changes; commit or stash them first, so the upgrade can be reviewed and undone")


def _checked_before_writing(project: Path, plan: UpgradePlan, vcs_ref: str | None, trust: bool) -> list[str]:
    """The upgrade's rule (upgrade_guard), checked on ``project`` before anything is written: the exclude
    patterns that keep copier off the credentials, the CA file and git-ignored paths."""
    refuse_untrusted(plan, trust)
    exclude = never_written(project)
    refuse_links(project, plan, vcs_ref, trust, exclude)
    return exclude


def _update(project: Path, plan: UpgradePlan, vcs_ref: str | None, trust: bool, exclude: list[str]) -> None:
    from copier.errors import CopierError
    from plumbum.commands.processes import ProcessExecutionError

    from generator.operations.copier_worker import run_update

    # The project's own template version and the installed one both come from this installation's bundle (its clone
    # in the user cache, which git copies by hard links where the bundle is unpacked again).
    serving = public_url_served_from(reusable_clone(plan.source).src) if plan.source else contextlib.nullcontext()
    try:
        # The answers are fresh already: the before-stage migration must not discover a second time.
        with copier_environment(**{REFRESHED_ENV: "1"}), serving, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an untagged template: the answers file records the commit
            # Tasks and migrations run unasked only for azs-scaffold's own template: the answers file is data from a
            # repository others may write to, and may name any template.
            run_update(project, data=plan.fresh, defaults=True, overwrite=True, unsafe=plan.source is not None or trust,
                              vcs_ref=vcs_ref or (plan.source.ref if plan.source else None), quiet=True, exclude=exclude)
    except ProcessExecutionError as error:  # git, run by copier, refused: most often a _commit the template lacks
        said = one_line(str(getattr(error, "stderr", "") or error), 200)
        raise UpgradeError(
            f"copier could not check out the template version {project} records (_commit {plan.recorded.get('_commit', '?')} "
            f"in {ANSWERS_FILE}) from {plan.recorded.get('_src_path', 'the template')}: git said: {said}; restore "
            f"{ANSWERS_FILE} from git, or set _commit to a version that template has"
        ) from None
    except (CopierError, ValueError) as error:
        recorded = plan.recorded.get("_commit", "?")
        if plan.source and "Unknown revision" in str(error):
            raise UpgradeError(
                f"{project} records template version {recorded}, which azs-scaffold {__version__} does not carry; "
                "upgrade with the release that generated it or a later one"
            ) from None
        raise UpgradeError(
            f"copier could not update {project}: {one_line(str(error))}; the template version it records "
            f"(_commit {recorded} in {ANSWERS_FILE}) must exist in {plan.recorded.get('_src_path', 'the template')}"
        ) from None


def conflicts(project: Path) -> list[str]:
    """Files copier could not merge: unmerged paths and .rej files."""
    status = git(project, "status", "--porcelain")
    unmerged = [line[3:] for line in status.splitlines() if line[:2] in ("UU", "AA", "DU", "UD")]
    return unmerged + [str(p.relative_to(project)) for p in project.rglob("*.rej") if ".git" not in p.parts]


@dataclass
class AppliedUpgrade:
    """What an upgrade left: the conflicts to resolve, and the interrupt (SIGINT, SIGTERM) that came while
    copier wrote, if one did: the upgrade completed all the same, and the caller stops once it has said so."""

    conflicts: list[str]
    interrupted_by: str | None = None
    removed: list[str] = field(default_factory=list)  # tracked files the upgrade deleted (a dropped sample, ...)
    changed: bool = True  # whether any file differs from the commit the upgrade started from


def apply_upgrade(plan: UpgradePlan, vcs_ref: str | None = None, trust: bool = False) -> AppliedUpgrade:
    """Run copier's update with the fresh answers (``trust``: also another template's tasks and migrations).

    Ctrl-C and SIGTERM wait until copier is done: a project rewritten halfway (only its answers file,
    say) would be worse than a few seconds' wait.
    """
    with worked_on_alone(plan.project):  # a second upgrade meanwhile would merge into the same files and index
        check_clean(plan.project)
        exclude = _checked_before_writing(plan.project, plan, vcs_ref, trust)
        with held_interrupts() as arrived:
            _update(plan.project, plan, vcs_ref, trust, exclude)
    status = git(plan.project, "status", "--porcelain").splitlines()
    removed = [line[3:] for line in status if line[:2] == " D"]
    return AppliedUpgrade(conflicts(plan.project), arrived[0].name if arrived else None, removed, changed=bool(status))


def dry_run_diff(plan: UpgradePlan, vcs_ref: str | None = None, trust: bool = False) -> str:
    """The diff an upgrade would make, computed on a throw-away copy of the project; writes nothing in it.

    The copy holds the working tree as it is (uncommitted changes too), committed in the copy so that
    copier accepts it. The service principal files are stand-ins without content: copier only needs to
    see that they exist (it never rewrites them), so no secret is ever copied.
    """
    files = _git_files(plan.project)  # a git repository is needed; uncommitted changes are not refused
    exclude = _checked_before_writing(plan.project, plan, vcs_ref, trust)
    with tempfile.TemporaryDirectory(prefix="azs-upgrade-") as scratch:
        copy = Path(scratch) / "project"
        _copy_working_tree(plan.project, files, copy)
        with temporary_files_in(Path(scratch)):
            try:
                _update(copy, replace(plan, project=copy), vcs_ref, trust, exclude)
            except UpgradeError as error:  # it names the scratch copy: the user knows the project
                raise UpgradeError(str(error).replace(str(copy), str(plan.project))) from None
        git(copy, "add", "-A")
        return git(copy, "diff", "--cached", "--stat", "-p")


def _git_files(project: Path) -> list[str]:
    """The files git would commit: tracked and untracked, without the ignored ones."""
    code, listed = git_output(project, "ls-files", "-z", "--cached", "--others", "--exclude-standard", check=False)
    if code != 0:
        raise UpgradeError(f"{project} is not a git repository; run `git init && git add -A && git commit -m generated` first")
    return [name for name in listed.split("\0")
            if name and (project / name).is_file()]


def _copy_working_tree(project: Path, files: list[str], copy: Path) -> None:
    copy.mkdir()
    for name in files:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(project / name, copy / name, follow_symlinks=False)
    for name in SP_FILES:
        if (project / name).exists():
            (copy / name).touch(mode=0o600)
    git(copy, "init", "-q")
    git(copy, "add", "-A")
    git(copy, "-c", "user.name=azs-scaffold", "-c", "user.email=azs-scaffold@localhost", "commit", "-qm", "the project as it is")


def refresh_answers(project_dir: str = ".") -> None:
    """The before-stage migration: re-discover and write the fresh answers into the answers file."""
    if os.environ.get(REFRESHED_ENV):
        return
    plan = plan_upgrade(project_dir, progress=lambda message: print(f"  {message} ...", file=sys.stderr))
    write_answers(plan.project, {**plan.recorded, **plan.fresh})
    for what, before, after in plan.changes:
        print(f"  {what}: {before} -> {after}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """``python -m generator.operations.upgrade refresh-answers``: the template's migration entry point."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["refresh-answers"]:
        print("usage: python -m generator.operations.upgrade refresh-answers", file=sys.stderr)
        return 2
    try:
        refresh_answers(".")
    except ScaffoldError as error:
        print(f"azs-scaffold: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
