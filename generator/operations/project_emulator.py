"""``azs-scaffold emulator --for-project DIR``: an emulated Stack of the project's own release and identity
system, and a settings overlay that points the project at it.

The overlay (JSON, mode 0600: it holds the emulator's throw-away secret) replaces what the project would
read from its service principal file and certs/: endpoint, identity, subscription, the emulator's CA.
The project reads it only when ``AZS_EMULATOR_OVERLAY`` names it; its real credential file and CA are
then never opened. A project upgraded to a new Stack release gets that release here too: everything
comes from its recorded answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from generator import catalog
from generator.errors import UsageError

OVERLAY_ENV = "AZS_EMULATOR_OVERLAY"
DEFAULT_OVERLAY = Path(".azs-emulator") / "overlay.json"
# The emulated release for a project that recorded only its profile.
_RELEASE_OF_PROFILE = {catalog.HYBRID_2019: "2008", catalog.HYBRID_2020: "2108", catalog.LATEST: "azure"}


def project_settings(project: Path) -> tuple[str, str]:
    """(release, identity system) the project was generated for, from its recorded answers."""
    from generator.templating.project_files import ANSWERS_FILE, read_answers

    answers = read_answers(project)
    release = str(answers.get("stack_release") or "") or _RELEASE_OF_PROFILE.get(str(answers.get("profile")), "")
    identity_system = str(answers.get("identity_system") or "azure_ad")
    if not release:
        raise UsageError(f"{project} records neither a Stack release nor a known profile; regenerate it with azs-scaffold")
    from azs_emulator.config import is_valid_release

    if not is_valid_release(release):
        raise UsageError(f"{project / ANSWERS_FILE} records stack_release {release!r}, which is no Stack release "
                         "the emulator knows (YYMM from 1904 on); restore the file from git, or run azs-scaffold upgrade")
    return release, identity_system


def overlay_for(info: dict[str, Any]) -> dict[str, Any]:
    """The project settings that point it at the emulator described by ``info``: its names, reached through its
    proxy (``httpsProxy``: the project sets it for its own requests, never for installs), and a CA file holding
    the Stack's root and, for Azure AD, the sign-in host's stand-in public CA (what ``.venv-emulator`` trusts)."""
    from azs_emulator.proxy import through_proxy
    from generator.discovery import DiscoveryRequest, discover_stack

    with through_proxy(info.get("https_proxy")):
        found = discover_stack(DiscoveryRequest.for_emulator(info, signed_in=False, release=(
            info["release"] if info["release"] != "azure" else None)))
    return {
        "resourceManagerEndpointUrl": found.metadata.resource_manager,
        "authorityHost": found.metadata.authority_host,
        "credentialScope": found.metadata.credential_scope,
        "disableInstanceDiscovery": found.disable_instance_discovery,
        "tenantId": found.tenant_id,
        "clientId": info["client_id"],
        "clientSecret": info["client_secret"],
        "subscriptionId": info["subscription_id"],
        "location": info["location"],
        "caCert": _trust_file(info),
        "httpsProxy": info.get("https_proxy"),
    }


def _trust_file(info: dict[str, Any]) -> str:
    """The emulator's root, plus the stand-in public CA of an Azure AD sign-in host, in one PEM file beside them."""
    stack_ca, identity_ca = Path(info["root_ca"]), Path(info["identity_ca_cert"])
    if identity_ca == stack_ca:
        return str(stack_ca)
    combined = stack_ca.with_name("project-trust.pem")
    combined.write_bytes(stack_ca.read_bytes().rstrip(b"\n") + b"\n" + identity_ca.read_bytes())
    return str(combined)
