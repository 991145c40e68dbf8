"""The template's answers as the generator knows them: what discovery reads from the answers, the answers it
computes (listed once, in :data:`DISCOVERED`), and the rules an answer must follow. Copier reaches these through
the Jinja globals of ``copier_extension``; render, batch and upgrade use them directly."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from generator import catalog
from generator.errors import ScaffoldError

if TYPE_CHECKING:
    from generator.discovery import DiscoveryRequest, StackDiscovery

# Answers that discovery reads, in the order copier asks them.
DISCOVERY_INPUTS = (
    "arm_endpoint", "ca_cert", "tenant", "auth_method", "client_id", "client_secret",
    "certificate_path", "certificate_password", "subscription_id", "stack_version",
)
# Where the client secret is read from when the answers do not hold it (they never do once recorded).
SECRET_ENV = "AZURE_CLIENT_SECRET"


def _ca_pem(found: StackDiscovery) -> str:
    from generator.discovery.trust import read_ca_pem

    return read_ca_pem(found.root_ca) if found.root_ca else ""


# The answers discovery computes (copier.yml asks none of them), each from a discovery.
DISCOVERED: tuple[tuple[str, Callable[[StackDiscovery], Any]], ...] = (
    ("resource_manager", lambda found: found.metadata.resource_manager),
    ("identity_system", lambda found: found.metadata.identity_system),
    ("authority_host", lambda found: found.metadata.authority_host),
    ("tenant_id", lambda found: found.tenant_id or ""),
    ("credential_scope", lambda found: found.metadata.credential_scope),
    ("stack_release", lambda found: found.release or ""),
    ("stack_build", lambda found: found.build or ""),
    ("profile", lambda found: found.profile or ""),
    ("profile_evidence", lambda found: list(found.profile_evidence)),
    ("disable_instance_discovery", lambda found: found.disable_instance_discovery),
    ("storage_suffix", lambda found: found.metadata.storage_suffix),
    ("keyvault_dns_suffix", lambda found: found.metadata.keyvault_dns_suffix),
    ("ca_cert_pem", _ca_pem),
    ("discovered_subscription_id", lambda found: found.subscription_id or ""),
    ("discovered_location", lambda found: found.location or ""),
)
# The discovered answers whose change an upgrade reports: the Stack's own facts, not the evidence for them, its CA
# (kept as recorded when unread) or the defaults it offered for the subscription and location.
MATERIAL = tuple(name for name, _ in DISCOVERED
                 if name not in ("profile_evidence", "ca_cert_pem", "discovered_subscription_id", "discovered_location"))


def discovery_answers(found: StackDiscovery) -> dict[str, Any]:
    """The template's computed answers from a discovery."""
    return {name: value(found) for name, value in DISCOVERED}


def discovery_key(answers: Mapping[str, Any]) -> tuple[str, ...]:
    """The discovery inputs of ``answers`` (:data:`DISCOVERY_INPUTS`) as text: the answers one discovery serves."""
    return tuple("" if answers.get(name) is None else str(answers[name]).strip() for name in DISCOVERY_INPUTS)


def discovery_request(answers: Mapping[str, str]) -> DiscoveryRequest:
    """The discovery the answers ask for (:data:`DISCOVERY_INPUTS`, as text), the secret from :data:`SECRET_ENV`
    when the answers hold none."""
    from generator.discovery import DiscoveryRequest, ServicePrincipal

    certificate = answers["certificate_path"] if answers["auth_method"] == "certificate" else None
    principal = ServicePrincipal.from_credentials(answers["client_id"], certificate=certificate,
                                                  certificate_password=answers["certificate_password"],
                                                  secret=answers["client_secret"] or os.environ.get(SECRET_ENV, ""))
    return DiscoveryRequest.from_settings(answers, principal)


# The rules an answer follows: each is empty when the value is usable, else the rule in words.

def check_project_name(name: str) -> str:
    """Empty when ``name`` is a usable project name, else the rule in words."""
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,63}", name or ""):
        return ""
    return "Use 1-64 ASCII letters, digits, '-' or '_', starting with a letter (no spaces or quotes)."


def project_name_for(folder: str) -> str:
    """The project name a folder's name makes (what :func:`check_project_name` accepts): each run of other characters
    a '-', anything before the first letter dropped, at most 64 characters; ``azs-project`` when nothing is left."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", folder)
    name = re.sub(r"^[^A-Za-z]+", "", name)[:64].rstrip("-_")
    return name or "azs-project"


# The CI definitions a project can carry (copier.yml's ``ci`` choices); ``none``, alone, names none of them.
CI_DEFINITIONS = ("github", "azure_pipelines")
NO_CI = "none"


def ci_names(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Validated CI definition names, in :data:`CI_DEFINITIONS` order; ``none`` alone (or nothing): none."""
    if list(names) == [NO_CI]:
        return ()
    unknown = [name for name in names if name not in CI_DEFINITIONS]
    if unknown == [NO_CI]:
        raise ScaffoldError(f"{NO_CI} goes alone: give {NO_CI}, or the CI definitions to carry ({', '.join(CI_DEFINITIONS)})")
    if unknown:
        raise ScaffoldError(f"unknown CI definition(s) {', '.join(unknown)}: choose from {', '.join(CI_DEFINITIONS)} "
                            f"(comma-separated), or {NO_CI}")
    return tuple(name for name in CI_DEFINITIONS if name in names)


def check_guid(value: str, what: str) -> str:
    """Empty when ``value`` is a GUID, else the rule in words."""
    from generator.discovery.identity import GUID

    return "" if GUID.match(value or "") else f"{what} is a GUID like 00000000-0000-0000-0000-000000000000."


def check_stack_version(value: str) -> str:
    """Empty when ``value`` is empty or a readable release or build, else the rule in words."""
    if not value:
        return ""
    try:
        catalog.parse_release(value)
    except ScaffoldError:
        return "Give the release as YYMM (e.g. 2108) or the build as 1.YYMM.x.y (e.g. 1.2108.2.65)."
    return ""


def check_endpoint(value: str) -> str:
    """Empty when ``value`` looks like an https:// endpoint, else the rule in words."""
    from generator.discovery.metadata import MetadataError, normalize_url

    try:
        normalize_url(value, "Resource Manager endpoint")
    except MetadataError as error:
        return str(error)
    return ""
