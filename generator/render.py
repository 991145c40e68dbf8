"""``run_new``: discover a Stack, then render the template for it with copier's API."""

from __future__ import annotations

import os
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from generator import catalog
from generator.discovery import DiscoveryRequest, StackDiscovery, discover_stack
from generator.discovery.http import one_line
from generator.errors import ScaffoldError, UsageError
from generator.template_source import TemplateSource, resolve_template

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


def check_destination(destination: str) -> Path:
    """The destination as an absolute path; refuse a non-empty or unwritable one before any work."""
    path = Path(destination).expanduser().resolve()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UsageError(f"{destination} exists and is not empty; choose a new directory (nothing was written)")
    parent = path if path.exists() else next(p for p in path.parents if p.exists())
    if not parent.is_dir():
        raise UsageError(f"cannot create {destination}: {parent} is a file, not a directory (nothing was written)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write in {parent}; choose a directory you own (nothing was written)")
    return path


def copier_data(request: NewProject, found: StackDiscovery) -> dict[str, Any]:
    """The answers to hand copier: what the user gave and what discovery found."""
    from generator.copier_extension import discovery_answers

    d, principal = request.discovery, request.discovery.principal
    data: dict[str, Any] = {
        "arm_endpoint": found.metadata.resource_manager,
        "ca_cert": str(Path(d.ca_cert).resolve()) if d.ca_cert else "",
        "stack_version": d.stack_version or "",
        "tenant": d.tenant or "",
        "subscription_id": found.subscription_id,
        **discovery_answers(found),
    }
    if principal is not None:
        data["client_id"] = principal.client_id
        if principal.certificate_path:
            data.update(auth_method="certificate", certificate_path=str(Path(principal.certificate_path).resolve()),
                        certificate_password=principal.certificate_password or "")
        else:
            data.update(auth_method="secret", client_secret=principal.client_secret or "")
    for key, value in (("project_name", request.project_name), ("location", request.location or found.location)):
        if value:
            data[key] = value
    if request.samples:
        data["samples"] = list(request.samples)
    data.update(request.extra_data)
    return data


def preload_copier() -> None:
    """Import copier in the background: its import (a fifth of a second) overlaps discovery's network waits."""
    import importlib
    import threading

    threading.Thread(target=importlib.import_module, args=("copier",), daemon=True).start()


def run_new(request: NewProject, progress: Progress = lambda message: None) -> tuple[Path, StackDiscovery]:
    """Discover the Stack and render a project for it into ``request.destination``."""
    destination = check_destination(request.destination)
    source = resolve_template(request.template, request.vcs_ref)
    preload_copier()
    if request.project_name is not None:
        from generator.copier_extension import azs_check_project_name

        problem = azs_check_project_name(request.project_name)
        if problem:
            raise UsageError(f"--project-name {request.project_name!r}: {problem}")
    if request.discovery.principal is None:
        raise UsageError("a project needs the service principal: pass --client-id and its secret (or --certificate)")
    if request.samples is not None:
        request.samples = catalog.sample_names(list(request.samples))
    found = discover_stack(request.discovery, progress=progress)
    if not found.profile:
        raise RenderError("cannot tell the Stack's API profile from what was found; pass --stack-version")
    if not found.subscription_id:
        raise RenderError(found.subscription_note)
    progress("Rendering the project with copier")
    render(request, found, destination, source)
    return destination, found


def render(request: NewProject, found: StackDiscovery, destination: Path, source: TemplateSource) -> None:
    """Render with copier; on any failure nothing is left at ``destination`` (if it was new)."""
    import copier
    from copier.errors import CopierError

    existed = destination.exists()
    try:
        with warnings.catch_warnings():
            # copier warns about a dirty or untagged template; the project records the commit it used.
            warnings.simplefilter("ignore")
            copier.run_copy(
                source.src,
                destination,
                data=copier_data(request, found),
                defaults=not request.interactive,
                unsafe=True,
                vcs_ref=source.ref,
                quiet=True,
            )
    except (CopierError, ValueError) as error:
        _remove(destination, existed)
        raise RenderError(f"copier could not render the project: {one_line(str(error))}") from None
    except OSError as error:
        _remove(destination, existed)
        raise RenderError(
            f"writing the project into {destination} failed ({one_line(error.strerror or str(error), 160)}); "
            "nothing was left behind: free some space or choose another directory"
        ) from None
    except BaseException:
        _remove(destination, existed)
        raise


def _remove(destination: Path, existed: bool) -> None:
    if existed:
        for child in destination.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    else:
        shutil.rmtree(destination, ignore_errors=True)
