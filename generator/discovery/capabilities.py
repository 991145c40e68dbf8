"""A Stack's capabilities, for checking ARM templates where the Stack cannot be reached (as AzureStack-Tools'
CloudCapabilities does): the resource providers with their types and api-versions, the VM sizes of the
region, the marketplace's VM images and VM extensions. ``discover --capabilities FILE`` writes them;
``doctor --capabilities FILE`` reads them back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from generator._util.files import write_private_file
from generator.discovery.discover import DiscoveryRequest, StackDiscovery
from generator.discovery.http import DiscoveryError, HttpStatusError, StackHttp
from generator.discovery.identity import acquire_token, build_credential
from generator.discovery.release import arm_get
from generator.discovery.roles import objects_of
from generator.discovery.trust import tls_context

CAPABILITIES_FORMAT = 1
_COMPUTE_VERSION = "2017-03-30"  # every hybrid profile's Compute serves it (the answer is retried with a served one)


def read_capabilities(request: DiscoveryRequest, found: StackDiscovery) -> dict[str, Any]:
    """Ask the Stack ``found`` describes (signed in as ``request``'s principal) what it serves."""
    if request.principal is None or not found.subscription_id or not found.location:
        raise DiscoveryError("--capabilities needs a service principal that sees a subscription: add --client-id and its "
                             "secret or certificate (and --subscription-id if it sees several)")
    trust = tls_context(request.root_ca, request.public_ca_bundle)
    http = StackHttp(trust, timeout=request.timeout, root_ca=request.root_ca)
    assert found.tenant_id is not None  # signed in already, so the tenant is known
    credential = build_credential(found.metadata, found.tenant_id, request.principal, trust, request.timeout)
    token = acquire_token(credential, found.metadata.credential_scope, found.metadata.login_endpoint)
    base = f"{found.metadata.resource_manager}subscriptions/{found.subscription_id}"
    compute = f"{base}/providers/Microsoft.Compute/locations/{found.location}"

    def names(url: str, what: str) -> list[str]:
        """The names in a list the Compute image API answers (a bare JSON array), or none where the publisher has
        nothing of it; entries of another shape (no object, no string name) are passed over."""
        try:
            body = arm_get(http, url, token, what, _COMPUTE_VERSION)
        except HttpStatusError as exc:
            if exc.status == 404:
                return []
            raise
        entries = body if isinstance(body, list) else body.get("value", []) if isinstance(body, dict) else []
        return [entry["name"] for entry in entries if isinstance(entry, dict) and isinstance(entry.get("name"), str)] \
            if isinstance(entries, list) else []

    providers = arm_get(http, f"{base}/providers", token, "listing the subscription's resource providers", "2019-10-01")
    sizes = names(f"{compute}/vmSizes", "listing the region's VM sizes")
    images: list[dict[str, str]] = []
    extensions: list[dict[str, Any]] = []
    for name in names(f"{compute}/publishers", "listing the marketplace's publishers"):
        publisher = f"{compute}/publishers/{quote(name, safe='')}"
        for offer in names(f"{publisher}/artifacttypes/vmimage/offers", f"listing {name}'s image offers"):
            for sku in names(f"{publisher}/artifacttypes/vmimage/offers/{quote(offer, safe='')}/skus",
                             f"listing the skus of {name} {offer}"):
                images.append({"publisher": name, "offer": offer, "sku": sku})
        for kind in names(f"{publisher}/artifacttypes/vmextension/types", f"listing {name}'s extensions"):
            versions = names(f"{publisher}/artifacttypes/vmextension/types/{quote(kind, safe='')}/versions",
                             f"listing the versions of extension {name} {kind}")
            extensions.append({"publisher": name, "type": kind, "versions": versions})
    return {
        "format": CAPABILITIES_FORMAT,
        "resourceManager": found.metadata.resource_manager,
        "stackVersion": found.release,
        "profile": found.profile,
        "location": found.location,
        "providers": [{"namespace": p.get("namespace"),
                       "resourceTypes": [{"resourceType": t.get("resourceType"), "apiVersions": t.get("apiVersions", [])}
                                         for t in objects_of({"value": p.get("resourceTypes")})]}
                      for p in objects_of(providers)],
        "vmSizes": sorted(sizes),
        "vmImages": images,
        "vmExtensions": extensions,
    }


def write_capabilities(path: str, capabilities: dict[str, Any]) -> Path:
    """Write the capabilities to ``path`` in one rename (never half-written)."""
    target = Path(path).expanduser()
    if target.is_dir():
        raise DiscoveryError(f"--capabilities {path} is a directory; give a file name, e.g. {target / 'capabilities.json'}")
    write_private_file(target, (json.dumps(capabilities, indent=2) + "\n").encode("utf-8"))
    return target
