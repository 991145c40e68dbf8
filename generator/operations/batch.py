"""``run_batch``: onboard many teams from one file, discovering each Stack once.

    defaults:                      # optional; every key may be set per team instead
      arm_endpoint: https://management.local.azurestack.external
      ca_cert: root.pem
      samples: [resource_groups]
    teams:
      - project_name: payments
        client_id: 00000000-0000-0000-0000-000000000000
        client_secret_env: PAYMENTS_SECRET      # or: certificate: sp.pem (+ certificate_password_env)
        subscription_id: 00000000-0000-0000-0000-000000000000
        location: local

Each team's project goes to ``OUT_DIR/<project_name>``. A team that fails is reported, and the others
still complete.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator import catalog
from generator._util.files import FileTooLarge, NotARegularFile, read_regular_file, why_unreadable
from generator._util.redact import from_variable, redact
from generator.discovery import DiscoveryRequest, ServicePrincipal, StackDiscovery, discover_stack
from generator.discovery.discover import discover_for_principal
from generator.errors import ScaffoldError, UsageError
from generator.operations.report import sample_role_warnings
from generator.templating.template_source import TemplateSource, resolve_template, reusable_clone

TEAM_KEYS = {
    "project_name", "arm_endpoint", "ca_cert", "tenant", "client_id", "client_secret_env", "certificate",
    "certificate_password_env", "subscription_id", "samples", "location", "stack_version",
}
Progress = Callable[[str], None]


@dataclass
class TeamResult:
    """How one team's onboarding ended."""

    project_name: str
    ok: bool
    detail: str  # the project path, or the one-line error
    profile: str | None = None
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()  # e.g. samples the principal's roles will not let run
    already_there: bool = False  # an earlier run made this team's project: left as it is

    @property
    def status(self) -> str:
        return "exists" if self.already_there else "ok" if self.ok else "FAILED"


@dataclass
class Team:
    """One entry of a teams file: its settings (defaults merged in), or why it cannot be onboarded."""

    index: int
    name: str
    settings: dict[str, Any]
    problem: str | None = None


# The type each key must have in a teams file; paths among them resolve against the file's folder.
_TEXT_KEYS = ("project_name", "arm_endpoint", "ca_cert", "tenant", "client_id", "client_secret_env", "certificate",
              "certificate_password_env", "subscription_id", "location")
_PATH_KEYS = ("ca_cert", "certificate")
MAX_TEAMS_FILE_BYTES = 4 * 1024 * 1024


def load_teams(path: str) -> list[Team]:
    """The teams of a batch file. A file that cannot be read as one stops the batch (UsageError); a team
    whose entry is wrong is returned with its ``problem``, so that it alone fails and the others go on."""
    import yaml

    source = Path(path)
    try:
        document = yaml.safe_load(read_regular_file(source, MAX_TEAMS_FILE_BYTES).decode("utf-8"))
    except (FileNotFoundError, IsADirectoryError, NotARegularFile, FileTooLarge) as exc:
        raise UsageError(f"--batch {path}{why_unreadable(exc)}; give the teams file (YAML)") from None
    except RecursionError:
        raise UsageError(f"--batch {path} nests its YAML beyond reason; give a plain teams file (see docs/batch.md)") from None
    except UnicodeDecodeError:
        raise UsageError(f"--batch {path} is not UTF-8 text; save the teams file as UTF-8") from None
    except OSError as exc:
        raise UsageError(f"--batch {path}{why_unreadable(exc)}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"--batch {path} is not valid YAML: {' '.join(str(exc).split())[:200]}") from None
    if not isinstance(document, dict) or not isinstance(document.get("teams"), list) or not document["teams"]:
        raise UsageError(f"--batch {path} needs a 'teams:' list (and optional 'defaults:'); see docs/batch.md")
    defaults = document.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise UsageError(f"--batch {path}: 'defaults:' must be a mapping of keys to values, like a team's entry")
    teams: list[Team] = []
    names: set[str] = set()
    for index, entry in enumerate(document["teams"], start=1):
        settings = {**defaults, **entry} if isinstance(entry, dict) else {}
        name = settings.get("project_name")
        team = Team(index, name if isinstance(name, str) and name else f"team {index}", settings)
        try:
            if not isinstance(entry, dict):
                raise UsageError("the entry is not a mapping of keys to values")
            _check_team(settings, names, source.parent)
        except (UsageError, ScaffoldError) as error:
            team.problem = f"{path}: team {index}: {error}"
        teams.append(team)
    return teams


def _check_team(team: dict[str, Any], names: set[str], base: Path) -> None:
    """Check one team's entry, key by key; resolve its paths against the teams file's folder."""
    from generator.templating.answers import check_project_name

    unknown = set(team) - TEAM_KEYS
    if unknown:
        raise UsageError(f"unknown key(s) {', '.join(sorted(map(str, unknown)))}; known: {', '.join(sorted(TEAM_KEYS))}")
    for key in _TEXT_KEYS:
        if key in team and team[key] is not None and not isinstance(team[key], str):
            raise UsageError(f"{key} must be text, not {type(team[key]).__name__}")
    if "stack_version" in team and not isinstance(team["stack_version"], (str, int)):
        raise UsageError("stack_version must be a release like 2108 or a build like 1.2108.2.65")
    samples = team.get("samples")
    if isinstance(samples, str):
        team["samples"] = samples = samples.split(",")
    if samples is not None and not (isinstance(samples, list) and all(isinstance(s, str) for s in samples)):
        raise UsageError(f"samples must be a list of names ({', '.join(catalog.SAMPLES)}), not {samples!r}")
    if samples:
        team["samples"] = catalog.sample_names(samples)
    missing = [k for k in ("project_name", "arm_endpoint", "client_id") if not team.get(k)]
    if missing or not (team.get("client_secret_env") or team.get("certificate")):
        raise UsageError(f"missing {', '.join(missing or ['client_secret_env or certificate'])}")
    problem = check_project_name(team["project_name"])
    if problem:
        raise UsageError(f"project_name {team['project_name']!r}: {problem}")
    if team["project_name"] in names:
        raise UsageError(f"project_name {team['project_name']!r} is used twice")
    names.add(team["project_name"])
    for key in _PATH_KEYS:
        if team.get(key):
            team[key] = str((base / Path(team[key]).expanduser()).resolve())


def _principal(team: dict[str, Any]) -> ServicePrincipal:
    password_env = team.get("certificate_password_env")
    if team.get("certificate"):
        principal = ServicePrincipal.from_credentials(str(team["client_id"]), certificate=str(team["certificate"]), certificate_password=(
            from_variable(str(password_env), "certificate_password_env") if password_env else None))
    else:
        principal = ServicePrincipal.from_credentials(str(team["client_id"]),
                                                      secret=from_variable(str(team["client_secret_env"]), "client_secret_env"))
    if principal is None:  # load_teams refuses such an entry; the batch signs every team in
        raise UsageError("missing client_id, or client_secret_env or certificate")
    return principal


def _request(team: dict[str, Any], principal: ServicePrincipal) -> DiscoveryRequest:
    return DiscoveryRequest.from_settings(team, principal, subscription_source="subscription_id (teams file)")


def _already_there(team: dict[str, Any], out: Path) -> TeamResult | None:
    """The result for a team whose project an earlier run made (same endpoint and client id), else None: a re-run
    of a batch goes on with the teams that failed and leaves the rest alone."""
    from generator.discovery.metadata import MetadataError, normalize_url
    from generator.templating.project_files import ANSWERS_FILE, ProjectFileError, read_answers

    project = out / str(team["project_name"])
    if not (project / ANSWERS_FILE).is_file():
        return None
    try:
        answers = read_answers(project)
        same = (normalize_url(str(answers.get("arm_endpoint") or ""), "arm_endpoint") == normalize_url(str(team["arm_endpoint"]))
                and str(answers.get("client_id") or "") == str(team["client_id"]))
    except (ProjectFileError, MetadataError):
        return None
    if not same:
        return None
    return TeamResult(str(team["project_name"]), True, f"{project} (already there; to make it again, move it away and re-run)",
                      profile=str(answers.get("profile") or "") or None, already_there=True)


def _stack_key(team: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(team.get(k) or "") for k in ("arm_endpoint", "ca_cert", "tenant", "stack_version"))


def _onboard(team: dict[str, Any], found: StackDiscovery, proven: bool, out: Path, source: TemplateSource,
             git: bool = False) -> TeamResult:
    """Prove one team's credentials on an already discovered Stack (unless done) and render its project.
    Whatever goes wrong ends in this team's result, never in the batch's."""
    from generator.operations.render import NewProject, RenderError, check_destination, render

    name = str(team["project_name"])
    started = time.monotonic()
    try:
        principal = _principal(team)
        request = _request(team, principal)
        if not proven:
            found = discover_for_principal(found, principal, request.subscription_id,
                                           subscription_source=request.subscription_source)
        if not found.profile:
            raise RenderError("cannot tell the Stack's API profile; add stack_version")
        if not found.subscription_id:
            raise RenderError(found.subscription_note)
        samples = catalog.sample_names(team["samples"]) if team.get("samples") else None
        project = NewProject(destination=str(out / name), discovery=request, project_name=name, samples=samples,
                             location=team.get("location"), git=git)
        render(project, found, check_destination(project.destination), source)
        warnings = tuple(sample_role_warnings(found, samples or catalog.DEFAULT_SAMPLES))
        return TeamResult(name, True, str(out / name), found.profile, time.monotonic() - started, warnings)
    except ScaffoldError as error:
        return TeamResult(name, False, redact(str(error)), seconds=time.monotonic() - started)
    except Exception as error:  # a bug must cost one team, not the batch and its table
        return TeamResult(name, False, redact(f"failed unexpectedly ({type(error).__name__}: {error}); please report it"),
                          seconds=time.monotonic() - started)


def _pool(jobs: int) -> Any:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fork (where there is one) hands each worker the parent's imports: copier is loaded once.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context(method))


def run_batch(path: str, out_dir: str, template: str | None = None, vcs_ref: str | None = None,
              progress: Progress = lambda message: None, jobs: int | None = None, git: bool = False) -> list[TeamResult]:
    """Onboard every team in ``path`` into ``out_dir`` (with ``git``, each project a git repository with a first
    commit, as ``new`` makes it).

    Each distinct Stack is discovered once (with the first of its teams whose credentials work);
    then the teams are proven and rendered in parallel worker processes, one per core, from one clone of the template.
    """
    source = resolve_template(template, vcs_ref)
    import generator.operations.copier_worker  # noqa: F401  (copier, loaded before the workers fork)

    teams = load_teams(path)
    out = Path(out_dir).expanduser().resolve()
    stacks: dict[tuple[str, ...], StackDiscovery] = {}
    results: dict[int, TeamResult] = {}
    work: list[tuple[int, dict[str, Any], StackDiscovery, bool]] = []
    for index, entry in enumerate(teams):
        if entry.problem:
            results[index] = TeamResult(entry.name, False, entry.problem)
            progress(f"[{len(results)}/{len(teams)}] {entry.name}: FAILED")
            continue
        team = entry.settings
        existing = _already_there(team, out)
        if existing:
            results[index] = existing
            progress(f"[{len(results)}/{len(teams)}] {entry.name}: already there, left as it is")
            continue
        key = _stack_key(team)
        if key in stacks:
            work.append((index, team, stacks[key], False))
            continue
        progress(f"Discovering the Stack at {team['arm_endpoint']} (with {team['project_name']}'s credentials)")
        started = time.monotonic()
        try:
            found = discover_stack(_request(team, _principal(team)), progress=lambda message: progress(f"    {message}"))
        except ScaffoldError as error:
            results[index] = TeamResult(str(team["project_name"]), False, redact(str(error)), seconds=time.monotonic() - started)
            progress(f"[{len(results)}/{len(teams)}] {team['project_name']}: FAILED")
            continue
        stacks[key] = found
        work.append((index, team, found, True))

    def record(index: int, result: TeamResult) -> None:
        results[index] = result
        progress(f"[{len(results)}/{len(teams)}] {result.project_name}: {'ok' if result.ok else 'FAILED'} ({result.seconds:.1f} s)")
        for warning in result.warnings:
            progress(f"    warning: {result.project_name}: {warning}")

    jobs = jobs or min(os.cpu_count() or 1, len(work))
    # One clone of the template for all the teams (kept for the next run): copier clones it per project by hard links
    # (the projects record the public URL and the commit all the same).
    source = reusable_clone(source) if work else source
    if jobs <= 1:
        for index, team, found, proven in work:
            record(index, _onboard(team, found, proven, out, source, git))
    else:
        with _pool(jobs) as pool:
            futures = {pool.submit(_onboard, team, found, proven, out, source, git): index
                       for index, team, found, proven in work}
            from concurrent.futures import as_completed

            for future in as_completed(futures):
                try:
                    result = future.result()
                except Exception as error:  # the worker itself died (killed, out of memory)
                    entry = teams[futures[future]]
                    result = TeamResult(entry.name, False, f"its worker process failed ({type(error).__name__}); run the batch again")
                record(futures[future], result)
    return [results[i] for i in sorted(results)]


def summary_table(results: list[TeamResult]) -> str:
    """A plain-text table: one row per team."""
    rows = [("team", "result", "profile", "seconds", "project or error")]
    rows += [(r.project_name, r.status, r.profile or "-", f"{r.seconds:.1f}", redact(r.detail)) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)) for row in rows)
