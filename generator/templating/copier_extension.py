"""The copier side of the generator: Jinja globals that discover the Stack, read the catalog and check answers
(the rules themselves are in ``generator.templating.answers``).

``copier.yml`` names :class:`AzsScaffoldExtension` in ``_jinja_extensions``; copier imports it from
the installed ``generator`` package (a template folder is not on ``sys.path``). Discovery runs at
most once per set of answers and process, however many question defaults ask for it. Its errors
become copier's ``UserMessageError``: one line, exit code 1, nothing left behind.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

from jinja2 import pass_context
from jinja2.ext import Extension
from jinja2.runtime import Context, Undefined

from generator import catalog
from generator.errors import ScaffoldError
from generator.templating.answers import (
    DISCOVERY_INPUTS,
    check_endpoint,
    check_guid,
    check_project_name,
    check_stack_version,
    discovery_answers,
    discovery_key,
    discovery_request,
    project_name_for,
)
from generator.templating.project_files import REFRESHED_ENV
from generator.templating.secret_files import hold_for_task, written_after
from generator.templating.template_source import recorded_url

if TYPE_CHECKING:
    from generator.discovery import StackDiscovery

_cache: dict[tuple[Any, ...], dict[str, Any]] = {}


def _user_error(error: Exception) -> Exception:
    from copier.errors import UserMessageError

    return UserMessageError(str(error))


def _answer(ctx: Context, name: str) -> str:
    value = ctx.get(name)
    return "" if value is None or isinstance(value, Undefined) else str(value).strip()


def remember_discovery(data: dict[str, Any], found: StackDiscovery) -> None:
    """Let ``azs_discovery()`` answer from a discovery already made for these answers (``azs-scaffold new``
    discovered before rendering, and hands copier the answers without the secret)."""
    _cache[discovery_key(data)] = discovery_answers(found)


def restore_discoveries(entries: list[Any]) -> None:
    """Hold the discoveries ``new`` made, ``[discovery_key, discovery_answers]`` each, in copier's own process
    (``generator.operations.copier_process``)."""
    _cache.update((tuple(key), answers) for key, answers in entries)


def _project_path(ctx: Context, path: str) -> str:
    """``path`` as given, or, when relative and found there, in the project copier renders (the answers record the CA
    as ``certs/azure-stack-root.pem``, relative to the project), else in the current folder."""
    from pathlib import Path

    if not path or Path(path).expanduser().is_absolute():
        return path
    conf = ctx.get("_copier_conf")
    folders = [Path(str(conf["dst_path"]))] if conf is not None and not isinstance(conf, Undefined) else []
    found = [folder / path for folder in [*folders, Path.cwd()] if (folder / path).is_file()]
    return str(found[0]) if found else path


@pass_context
def azs_discovery(ctx: Context) -> dict[str, Any]:
    """Discover the Stack the answers so far point at (cached), as the template's computed answers."""
    inputs = {name: _answer(ctx, name) for name in DISCOVERY_INPUTS}
    key = discovery_key(inputs)
    if key not in _cache:
        from generator.discovery import discover_stack

        request = discovery_request({**inputs, "ca_cert": _project_path(ctx, inputs["ca_cert"])})
        print(f"Discovering the Stack at {inputs['arm_endpoint']} ...", file=sys.stderr, flush=True)
        try:
            found = discover_stack(request)
            if not found.profile:
                raise ScaffoldError(
                    "cannot tell which API profile the Stack needs: give its release (stack_version) "
                    "or service principal credentials"
                )
            _cache[key] = discovery_answers(found)
        except ScaffoldError as error:
            raise _user_error(error) from None
    return _cache[key]


def azs_project_name_for(destination: Any) -> str:
    """The default project name: the destination folder's name, made valid (as ``azs-scaffold new`` does)."""
    from pathlib import Path

    return project_name_for(Path(str(destination or "")).resolve().name)


def azs_requirements(samples: list[str], profile: str) -> list[str]:
    """The requirements.txt entries of a project with these samples on this profile: its share of the lock, each
    ``package==version`` with the hashes of its files (continuation lines)."""
    return [entry.lines for entry in catalog.locked_for(tuple(samples), profile)]


def azs_sample_choices() -> str:
    """copier.yml's ``samples`` choices, as the catalog lists them (title -> name), serialized for copier to parse: a
    new sample is a template file and one line in ``generator/catalog/samples.py``."""
    return json.dumps({sample.title: sample.name for sample in catalog.SAMPLES.values()})


def azs_default_samples() -> str:
    """copier.yml's ``samples`` default: every sample of the catalog, serialized for copier to parse."""
    return json.dumps(list(catalog.DEFAULT_SAMPLES))


def azs_sample_rows(samples: list[str], profile: str) -> list[dict[str, str]]:
    """The generated README's row of each chosen sample, in catalog order: its file, what it does (with this profile's
    data-plane versions), how long it takes and the least role it needs."""
    facts = azs_profile(profile)
    return [{"file": f"samples/{sample.name}.py", "description": sample.description.format(**facts),
             "duration": sample.duration, "role": catalog.minimal_role(sample.name)}
            for sample in catalog.SAMPLES.values() if sample.name in samples]


def azs_providers(samples: list[str]) -> list[str]:
    """Resource providers these samples need registered."""
    return catalog.providers_for(tuple(samples))


def azs_minimal_role(sample: str) -> str:
    """The least built-in role on the subscription that lets the sample run."""
    return catalog.minimal_role(sample)


def azs_profile(name: str) -> dict[str, Any]:
    """A profile's facts for rendering: its KnownProfiles attribute and per-client api-versions."""
    try:
        profile = catalog.profile(name)
    except ScaffoldError as error:
        raise _user_error(error) from None
    return {"known_profile": profile.known_profile, "api_versions": dict(profile.api_versions),
            "keyvault_data_api_version": profile.keyvault_data_api_version,
            "storage_data_api_version": profile.storage_data_api_version}


def azs_ci_steps(src_path: str, commit: str) -> list[tuple[str, str]]:
    """(title, command) of the generated CI definitions, GitHub Actions and Azure Pipelines alike: install the
    azs-scaffold that generated the project (from the public source unless the CI variables name another:
    scripts/install_azs_scaffold.py), then run its scripts/test_against_emulator.py."""
    import re
    import shlex

    source = recorded_url(src_path)
    package = f"azs-scaffold @ git+{source}@{commit}" if commit and "://" in source else f"azs-scaffold @ git+{source}"
    # From an internal index or a folder of wheels: the release by its version (a tag like v1.2.0 names one).
    release = re.fullmatch(r"v?(\d+(?:\.\d+)*)", commit or "")
    from_a_feed = f"azs-scaffold=={release[1]}" if release else "azs-scaffold"
    return [
        ("Install azs-scaffold, the release that generated this project (or AZS_SCAFFOLD_SOURCE)",
         f"python scripts/install_azs_scaffold.py {shlex.quote(package)} {from_a_feed}"),
        ("Bootstrap, register providers, run every sample and the tests against an emulated Stack",
         "python scripts/test_against_emulator.py"),
    ]


def azs_ci_python() -> str:
    """The Python the generated CI definitions run (``azs-scaffold wheelhouse`` fetches for it by default)."""
    from generator.catalog.lock import CI_PYTHON

    return CI_PYTHON


def azs_require(value: Any, message: str) -> str:
    """Nothing when ``value`` is set; otherwise stop the rendering with ``message``."""
    if not value:
        raise _user_error(ScaffoldError(message))
    return ""


@pass_context
def azs_check_sign_in(ctx: Context, typed: str) -> str:
    """Empty when the Stack can be discovered with the answers so far (the service principal signs in), else what
    failed: as the validator of a secret just ``typed``, a wrong one is asked again at once instead of failing after
    every question (and losing the answers). The discovery is cached for the questions after it. Nothing typed (a
    secret from AZURE_CLIENT_SECRET, or answers replayed by azs-scaffold, which discovered already): nothing to check."""
    from copier.errors import UserMessageError

    if not typed:
        return ""
    try:
        azs_discovery(ctx)
    except UserMessageError as error:
        return f"Type it again (or Ctrl-C to stop): {error}"
    return ""


def azs_explicit_api_versions(profile: str, samples: list[str]) -> dict[str, str]:
    """Released (template versions up to 9af8fd6 write it into stack.json): the clients whose api-version a sample
    had to name outside the profile. None ever had to, so it is empty; kept because copier renders a project's
    recorded template version with the installed generator when it upgrades."""
    return {}


def azs_answers_refreshed() -> bool:
    """Whether the answers are fresh already (``REFRESHED_ENV``): copier.yml then starts no Python to refresh them."""
    return bool(os.environ.get(REFRESHED_ENV))


class AzsScaffoldExtension(Extension):
    """Adds the ``azs_*`` globals to copier's Jinja environment."""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        environment.globals.update(
            azs_discovery=azs_discovery,
            azs_requirements=azs_requirements,
            azs_providers=azs_providers,
            azs_sample_choices=azs_sample_choices,
            azs_sample_rows=azs_sample_rows,
            azs_default_samples=azs_default_samples,
            azs_minimal_role=azs_minimal_role,
            azs_profile=azs_profile,
            azs_check_project_name=check_project_name,
            azs_project_name_for=azs_project_name_for,
            azs_require=azs_require,
            azs_check_guid=check_guid,
            azs_check_endpoint=check_endpoint,
            azs_check_stack_version=check_stack_version,
            azs_check_sign_in=azs_check_sign_in,
            azs_template_url=recorded_url,
            azs_hold_secret_for_task=hold_for_task,
            azs_ci_steps=azs_ci_steps,
            azs_ci_python=azs_ci_python,
            azs_answers_refreshed=azs_answers_refreshed,
            azs_secrets_written_after=written_after,
            # Released globals: a template version a project recorded may still call them (see azs_explicit_api_versions).
            azs_explicit_api_versions=azs_explicit_api_versions,
        )
