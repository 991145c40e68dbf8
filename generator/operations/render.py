"""``run_new``: discover a Stack, then render the template for it with copier's API."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator import catalog
from generator._util.files import remove_tree
from generator._util.git import commit_everything, inside_work_tree
from generator._util.interrupts import deferred_interrupts
from generator.discovery import DiscoveryRequest, ServicePrincipal, StackDiscovery, discover_stack
from generator.discovery.http import one_line
from generator.errors import ScaffoldError, UsageError
from generator.operations.copier_process import CopierFailure, CopierProcess, copy_here
from generator.templating.answers import project_name_for
from generator.templating.secret_files import SP_FILES, WRITTEN_AFTER_ENV
from generator.templating.template_source import TemplateSource, copier_environment, resolve_template, reusable_clone

Progress = Callable[[str], None]


class RenderError(ScaffoldError):
    """The project could not be rendered."""


@dataclass
class NewProject:
    """What ``azs-scaffold new`` was asked to make."""

    destination: str
    discovery: DiscoveryRequest
    project_name: str | None = None
    samples: tuple[str, ...] | None = None
    location: str | None = None
    interactive: bool = False
    template: str | None = None
    vcs_ref: str | None = None
    extra_data: dict[str, Any] = field(default_factory=dict)
    # Make the project a git repository with a first commit (the command line's default; --no-git).
    git: bool = False


def check_destination(destination: str) -> Path:
    """The destination as an absolute path; refuse a non-empty or unwritable one before any work."""
    path = Path(destination).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise UsageError(f"{destination} is a file, not a directory; choose a new directory (nothing was written)")
    if path.exists() and any(path.iterdir()):
        raise UsageError(f"{destination} exists and is not empty; choose a new directory (nothing was written)")
    parent = path if path.exists() else next(p for p in path.parents if p.exists())
    if not parent.is_dir():
        raise UsageError(f"cannot create {destination}: {parent} is a file, not a directory (nothing was written)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write in {parent}; choose a directory you own (nothing was written)")
    return path


def check_outside_template(destination: Path, source: TemplateSource) -> None:
    """Refuse a destination inside the template's own folder: the next render would ship the project."""
    template = Path(source.src)
    if not template.is_dir():
        return  # a bundle or a URL: nothing of it is on this disk to write into
    if destination == template or template in destination.parents:
        raise UsageError(f"{destination} is inside the template folder {template}; choose a directory outside it "
                         "(the template would then carry the project)")


def copier_data(request: NewProject, found: StackDiscovery, with_secrets: bool = True) -> dict[str, Any]:
    """The answers to hand copier: what the user gave and what discovery found (without the secret and the
    certificate's password when ``with_secrets`` is false: :func:`write_secrets` puts them in)."""
    from generator.templating.answers import discovery_answers

    d, principal = request.discovery, request.discovery.principal
    data: dict[str, Any] = {
        "arm_endpoint": found.metadata.resource_manager,
        "ca_cert": str(Path(d.root_ca).resolve()) if d.root_ca else "",
        "stack_version": d.release or "",
        "tenant": d.tenant or "",
        "subscription_id": found.subscription_id,
        **discovery_answers(found),
    }
    if principal is not None:
        data["client_id"] = principal.client_id
        if principal.certificate_path:
            data.update(auth_method="certificate", certificate_path=str(Path(principal.certificate_path).resolve()),
                        certificate_password=(principal.certificate_password or "") if with_secrets else "")
        else:
            data.update(auth_method="secret", client_secret=(principal.client_secret or "") if with_secrets else "")
    for key, value in (("project_name", request.project_name), ("location", request.location or found.location)):
        if value:
            data[key] = value
    if request.samples:
        data["samples"] = list(request.samples)
    data.update(request.extra_data)
    return data


def preload_copier() -> None:
    """Import copier in the background: its import (a fifth of a second) overlaps discovery's network waits."""
    import threading

    def load() -> None:
        # Whatever fails here fails again, reported, where copier is used; a thread must not die unhandled.
        with contextlib.suppress(Exception):
            import generator.operations.copier_worker  # noqa: F401  (copier, and the Worker azs-scaffold runs it with)

    threading.Thread(target=load, name="azs-preload-copier", daemon=True).start()


def run_new(request: NewProject, progress: Progress = lambda message: None,
            copier: CopierProcess | None = None) -> tuple[Path, StackDiscovery]:
    """Discover the Stack and render a project for it into ``request.destination``; copier runs in ``copier`` when
    given (the caller started it as early as it could), else in a process started here, or here when interactive."""
    destination = check_destination(request.destination)
    source = resolve_template(request.template, request.vcs_ref)
    check_outside_template(destination, source)
    if request.project_name is not None:
        from generator.templating.answers import check_project_name

        problem = check_project_name(request.project_name)
        if problem:
            raise UsageError(f"--project-name {request.project_name!r}: {problem}")
    if request.discovery.principal is None:
        raise UsageError("a project needs the service principal: pass --client-id and its secret (or --certificate)")
    if request.samples is not None:
        request.samples = catalog.sample_names(list(request.samples))
    clone = reusable_clone(source)
    # copier is imported while discovery runs: in a process of its own without prompts (a second core), else in a thread.
    with contextlib.ExitStack() as stack:
        if copier is None and not request.interactive:
            copier = CopierProcess.start()
            stack.enter_context(copier or contextlib.nullcontext())
        if copier is None:
            preload_copier()
        else:
            copier.clone_ahead(clone.src, clone.ref)
        found = discover_stack(request.discovery, progress=progress)
        if not found.profile:
            raise RenderError("cannot tell the Stack's API profile from what was found; pass --release")
        if not found.subscription_id:
            raise RenderError(found.subscription_note)
        progress("Rendering the project with copier")
        render(request, found, destination, clone, copier)
    return destination, found


def render(request: NewProject, found: StackDiscovery, destination: Path, source: TemplateSource,
           copier: CopierProcess | None = None) -> None:
    """Render with copier into a private staging folder beside ``destination``, put the secret in, then
    move the finished project into place in one rename.

    So the result is all or nothing, whatever happens (a failure, Ctrl-C, SIGTERM): nothing appears at
    ``destination`` before the project is whole, and a concurrent run into the same destination loses
    the rename and refuses, never touching the winner's files. copier never sees the secret: the service
    principal file is rendered without it and then replaced by one created private (0600) before its first byte.
    With ``request.git`` the project is a git repository with its first commit before it appears (see
    :func:`first_commit`). The project name defaults to the destination folder's name. copier runs in ``copier``
    (a process started before discovery) when given, else here.
    """
    data = copier_data(request, found, with_secrets=False)
    user_defaults = {"project_name": project_name_for(destination.name)}
    created: list[Path] = []
    staging: Path | None = None
    published = False
    try:
        # A signal held back until both are recorded: the finally below then removes whatever was made.
        with deferred_interrupts():
            created = _make_parents(destination.parent)
            staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.partial-", dir=destination.parent))
        project = staging / destination.name
        # The secrets are written below, once copier is done: copier.yml's task that would write them is not started.
        with copier_environment(**{WRITTEN_AFTER_ENV: "1"}):
            _copy(request, found, project, source, data, user_defaults, staging, copier)
        if request.discovery.principal is not None:
            write_secrets(project, request.discovery.principal)
        if request.git:
            first_commit(project, destination)
        _publish(project, destination)
        published = True
    except OSError as error:
        raise RenderError(
            f"writing the project into {destination} failed ({one_line(error.strerror or str(error), 160)}); "
            "nothing was left behind: free some space or choose another directory"
        ) from None
    finally:
        if copier is not None:
            copier.close()  # before the staging folder goes: a child still writing there is ended first
        if staging is not None:
            remove_tree(staging)
        if not published:
            _remove_parents(created)


def _copy(request: NewProject, found: StackDiscovery, project: Path, source: TemplateSource, data: dict[str, Any],
          user_defaults: dict[str, Any], staging: Path, copier: CopierProcess | None) -> None:
    """copier's copy into ``project``, in ``copier``'s process (handed the discovery made here) or in this one; its
    temporary files in ``staging``."""
    from generator.templating.answers import discovery_answers, discovery_key

    try:
        if copier is not None:
            copier.copy(source.src, project, vcs_ref=source.ref, data=data, user_defaults=user_defaults, scratch=staging,
                        discoveries=[[list(discovery_key(data)), discovery_answers(found)]])
        else:
            from generator.templating.copier_extension import remember_discovery

            remember_discovery(data, found)
            copy_here(source.src, project, vcs_ref=source.ref, data=data, user_defaults=user_defaults, scratch=staging,
                      interactive=request.interactive)
    except CopierFailure as failure:
        if failure.kind == "write":
            raise OSError(failure.message) from None  # said as any other write of the project
        raise RenderError(f"copier could not render the project: {failure.message}") from None


def first_commit(project: Path, destination: Path) -> None:
    """Make the rendered ``project`` a git repository with one commit, unless ``destination`` lies in a repository
    already (a monorepo, a batch's folder kept in git): the project is then that repository's to commit. The
    service principal files are never committed, whatever the template's .gitignore says."""
    from generator import __version__

    if inside_work_tree(destination.parent):
        return
    commit_everything(project, f"Generated by azs-scaffold {__version__}", leave_out=SP_FILES)


def write_secrets(project: Path, principal: ServicePrincipal) -> None:
    """Put the secret (or the certificate's password) into the project's service principal file, as a new
    file that is private from its first byte and replaces the rendered one in one rename."""
    from generator.templating.secret_files import fill

    fill(project, {SP_FILES[0]: {"clientSecret": principal.client_secret or ""},
                   SP_FILES[1]: {"certPass": principal.certificate_password or ""}})


def _publish(project: Path, destination: Path) -> None:
    """Move the finished project to ``destination`` (new, or an empty folder) in one rename."""
    try:
        os.rename(project, destination)
    except OSError as error:
        if error.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
            raise RenderError(
                f"{destination} was filled by another run meanwhile; its files were left as they are (nothing was written)"
            ) from None
        raise


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns those created, innermost last."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()][::-1]
    for path in missing:
        path.mkdir(exist_ok=True)
    return missing


def _remove_parents(created: list[Path]) -> None:
    for path in reversed(created):
        try:
            path.rmdir()
        except OSError:
            break
