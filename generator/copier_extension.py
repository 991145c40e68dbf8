"""The copier side of the generator: Jinja globals that discover the Stack and read the catalog.

``copier.yml`` names :class:`AzsScaffoldExtension` in ``_jinja_extensions``; copier imports it from
the installed ``generator`` package (a template folder is not on ``sys.path``). Discovery runs at
most once per set of answers and process, however many question defaults ask for it. Its errors
become copier's ``UserMessageError``: one line, exit code 1, nothing left behind.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from jinja2 import pass_context
from jinja2.ext import Extension
from jinja2.runtime import Context, Undefined

from generator import catalog
from generator.errors import ScaffoldError
from generator.secret_files import hold_for_task
from generator.template_source import recorded_url

# Answers that discovery reads, in the order copier asks them.
DISCOVERY_INPUTS = (
    "arm_endpoint", "ca_cert", "tenant", "auth_method", "client_id", "client_secret",
    "certificate_path", "certificate_password", "subscription_id", "stack_version",
)
SECRET_ENV = "AZURE_CLIENT_SECRET"

_cache: dict[tuple[Any, ...], dict[str, Any]] = {}


def _user_error(error: Exception) -> Exception:
    from copier.errors import UserMessageError

    return UserMessageError(str(error))


def _answer(ctx: Context, name: str) -> str:
    value = ctx.get(name)
    return "" if value is None or isinstance(value, Undefined) else str(value).strip()


def discovery_answers(found: Any) -> dict[str, Any]:
    """The template's computed answers from a :class:`~generator.discovery.StackDiscovery`."""
    from generator.discovery.trust import read_ca_pem

    m = found.metadata
    return {
        "resource_manager": m.resource_manager,
        "identity_system": m.identity_system,
        "authority_host": m.authority_host,
        "tenant_id": found.tenant_id or "",
        "credential_scope": m.credential_scope,
        "stack_release": found.stack_version or "",
        "stack_build": found.build or "",
        "profile": found.profile or "",
        "profile_evidence": list(found.profile_evidence),
        "disable_instance_discovery": found.disable_instance_discovery,
        "storage_suffix": m.storage_suffix,
        "keyvault_dns_suffix": m.keyvault_dns_suffix,
        "ca_cert_pem": read_ca_pem(found.ca_cert) if found.ca_cert else "",
        "discovered_subscription_id": found.subscription_id or "",
        "discovered_location": found.location or "",
    }


def _cache_key(inputs: dict[str, str]) -> tuple[str, ...]:
    return tuple(inputs[name] for name in DISCOVERY_INPUTS)


def remember_discovery(data: dict[str, Any], found: Any) -> None:
    """Let ``azs_discovery()`` answer from a discovery already made for these answers (``azs-scaffold new``
    discovered before rendering, and hands copier the answers without the secret)."""
    inputs = {name: "" if data.get(name) is None else str(data[name]).strip() for name in DISCOVERY_INPUTS}
    _cache[_cache_key(inputs)] = discovery_answers(found)


@pass_context
def azs_discovery(ctx: Context) -> dict[str, Any]:
    """Discover the Stack the answers so far point at (cached), as the template's computed answers."""
    inputs = {name: _answer(ctx, name) for name in DISCOVERY_INPUTS}
    key = _cache_key(inputs)
    if key not in _cache:
        from generator.discovery import DiscoveryRequest, ServicePrincipal, discover_stack

        certificate = inputs["certificate_path"] if inputs["auth_method"] == "certificate" else None
        principal = ServicePrincipal.from_credentials(inputs["client_id"], certificate=certificate,
                                                      certificate_password=inputs["certificate_password"],
                                                      secret=inputs["client_secret"] or os.environ.get(SECRET_ENV, ""))
        request = DiscoveryRequest.from_settings(inputs, principal)
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


def azs_requirements(samples: list[str], profile: str) -> list[str]:
    """The requirements.txt entries of a project with these samples on this profile: its share of the lock, each
    ``package==version`` with the hashes of its files (continuation lines)."""
    return [entry.lines for entry in catalog.locked_for(tuple(samples), profile)]


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
    from generator.wheelhouse import CI_PYTHON

    return CI_PYTHON


def azs_require(value: Any, message: str) -> str:
    """Nothing when ``value`` is set; otherwise stop the rendering with ``message``."""
    if not value:
        raise _user_error(ScaffoldError(message))
    return ""


def azs_check_project_name(name: str) -> str:
    """Empty when ``name`` is a usable project name, else the rule in words."""
    import re

    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,63}", name or ""):
        return ""
    return "Use 1-64 ASCII letters, digits, '-' or '_', starting with a letter (no spaces or quotes)."


def azs_check_guid(value: str, what: str) -> str:
    """Empty when ``value`` is a GUID, else the rule in words."""
    from generator.discovery.identity import GUID

    return "" if GUID.match(value or "") else f"{what} is a GUID like 00000000-0000-0000-0000-000000000000."


def azs_check_stack_version(value: str) -> str:
    """Empty when ``value`` is empty or a readable release or build, else the rule in words."""
    if not value:
        return ""
    try:
        catalog.parse_release(value)
    except ScaffoldError:
        return "Give the release as YYMM (e.g. 2108) or the build as 1.YYMM.x.y (e.g. 1.2108.2.65)."
    return ""


def azs_check_endpoint(value: str) -> str:
    """Empty when ``value`` looks like an https:// endpoint, else the rule in words."""
    from generator.discovery.metadata import MetadataError, normalize_url

    try:
        normalize_url(value, "Resource Manager endpoint")
    except MetadataError as error:
        return str(error)
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


class AzsScaffoldExtension(Extension):
    """Adds the ``azs_*`` globals to copier's Jinja environment."""

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        environment.globals.update(
            azs_discovery=azs_discovery,
            azs_requirements=azs_requirements,
            azs_providers=azs_providers,
            azs_minimal_role=azs_minimal_role,
            azs_profile=azs_profile,
            azs_check_project_name=azs_check_project_name,
            azs_require=azs_require,
            azs_check_guid=azs_check_guid,
            azs_check_endpoint=azs_check_endpoint,
            azs_check_stack_version=azs_check_stack_version,
            azs_check_sign_in=azs_check_sign_in,
            azs_template_url=recorded_url,
            azs_hold_secret_for_task=hold_for_task,
            azs_ci_steps=azs_ci_steps,
            azs_ci_python=azs_ci_python,
        )
