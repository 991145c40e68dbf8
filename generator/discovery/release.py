"""Which Stack release and API profile: gathering evidence and deciding, with every reason kept."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from generator import catalog
from generator.discovery.http import DiscoveryError, HttpStatusError, StackHttp

# How Resource Manager lists the versions it serves when it refuses one: Microsoft.Resources' own types
# (InvalidApiVersionParameter, "The supported versions are '...'", reference section 6), a provider's type in a resource
# group (NoRegisteredProviderFound, "The supported api-versions are '...'", real-stack: cloud-provider-azure #9704) and
# across a subscription (InvalidResourceType, 404, the same words: real-stack: azurestack-powershell #43).
_SUPPORTED = re.compile(r"supported (?:api-)?versions are '([^']*)'", re.IGNORECASE)
_REFUSED_VERSION = ("InvalidApiVersionParameter", "NoRegisteredProviderFound", "InvalidResourceType")


@dataclass
class ReleaseFinding:
    """What one source of evidence says; ``profile`` is None when it says nothing."""

    source: str  # "user", "admin", "providers" or "cloud"
    profile: str | None
    release: str | None = None
    build: str | None = None
    sentences: list[str] = field(default_factory=list)


def from_user(text: str) -> ReleaseFinding:
    """The release the user gave (``YYMM`` or a build number)."""
    release, build = catalog.parse_release(text)
    profile, why = catalog.profile_for_release(release)
    given = f"build {build} (release {release})" if build else f"release {release}"
    return ReleaseFinding("user", profile, release, build, [f"You gave {given}; {why}."])


def arm_get(http: StackHttp, url: str, token: str, what: str, api_version: str) -> Any:
    """GET an ARM collection; if the Stack refuses ``api_version`` it lists the ones it serves: retry with the newest."""
    headers = {"Authorization": f"Bearer {token}"}
    separator = "&" if "?" in url else "?"
    try:
        return http.get(f"{url}{separator}api-version={api_version}", what, headers=headers).body
    except HttpStatusError as exc:
        match = _SUPPORTED.search(exc.arm_message) if exc.arm_code in _REFUSED_VERSION else None
        if not match:
            raise
        served = sorted((v.strip() for v in match.group(1).split(",") if v.strip()), reverse=True)
        if not served:
            raise
        return http.get(f"{url}{separator}api-version={served[0]}", what, headers=headers).body


def from_admin(http: StackHttp, admin_endpoint: str, token: str) -> ReleaseFinding:
    """The build the admin update API reports (operators only)."""
    subscriptions = arm_get(http, f"{admin_endpoint}subscriptions", token, "listing the operator's subscriptions", "2016-06-01")
    values = subscriptions.get("value", []) if isinstance(subscriptions, dict) else []
    provider = next((s for s in values if s.get("displayName") == "Default Provider Subscription"), values[0] if values else None)
    if provider is None:
        raise DiscoveryError(
            f"the admin endpoint {admin_endpoint} shows no subscription to these credentials; they must be an operator's "
            "(with access to the Default Provider Subscription)"
        )
    sub = provider["subscriptionId"]
    locations = arm_get(http, f"{admin_endpoint}subscriptions/{sub}/locations", token, "listing the Stack's regions", "2016-06-01")
    region = (locations.get("value") or [{}])[0].get("name") if isinstance(locations, dict) else None
    if not region:
        raise DiscoveryError(f"the admin endpoint {admin_endpoint} names no region for subscription {sub}")
    url = (
        f"{admin_endpoint}subscriptions/{sub}/resourceGroups/System.{region}/providers/"
        f"Microsoft.Update.Admin/updateLocations/{region}"
    )
    body = arm_get(http, url, token, "reading the Stack's update state", "2021-07-01")
    build = (body.get("properties") or {}).get("currentVersion") if isinstance(body, dict) else None
    if not isinstance(build, str):
        raise DiscoveryError(f"the admin update API at {admin_endpoint} reports no currentVersion")
    try:
        release, build = catalog.parse_release(build)
    except catalog.CatalogError:  # an internal build (9.2222.0.222): the other evidence decides
        return ReleaseFinding("admin", None, build=build, sentences=[
            f"The admin update API reports build {build}, which names no release (not 1.YYMM.x.y; Microsoft's internal "
            "test stamps report such builds); the other evidence decides."])
    profile, why = catalog.profile_for_release(release)
    return ReleaseFinding("admin", profile, release, build, [f"The admin update API reports build {build} (release {release}); {why}."])


def served_versions(providers: Any) -> dict[tuple[str, str], set[str]]:
    """(namespace, resource type), lower case -> api-versions, from a provider list."""
    served: dict[tuple[str, str], set[str]] = {}
    for provider in providers.get("value", []) if isinstance(providers, dict) else []:
        namespace = str(provider.get("namespace", "")).lower()
        for rtype in provider.get("resourceTypes", []) or []:
            key = (namespace, str(rtype.get("resourceType", "")).lower())
            served.setdefault(key, set()).update(rtype.get("apiVersions", []) or [])
    return served


def from_providers(http: StackHttp, resource_manager: str, subscription_id: str, token: str) -> ReleaseFinding:
    """The newest profile whose every required API version the subscription's provider list serves."""
    body = arm_get(
        http, f"{resource_manager}subscriptions/{subscription_id}/providers", token,
        "listing the subscription's resource providers", "2019-10-01",
    )
    served = served_versions(body)
    misses: list[str] = []
    for name, profile in catalog.PROFILES.items():
        missing = [
            f"{ns}/{rtype} {version}"
            for (ns, rtype), version in profile.required_versions().items()
            if version not in served.get((ns.lower(), rtype.lower()), set())
        ]
        if not missing:
            sentences = [f"The subscription's providers serve every API version {name} needs."]
            if misses:
                sentences.append("They do not serve " + "; ".join(misses) + ".")
            return ReleaseFinding("providers", name, sentences=sentences)
        misses.append(f"{name}'s {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
    raise DiscoveryError(
        "the subscription's resource providers fit no known API profile (missing: " + "; ".join(misses) + "); "
        "the Stack is older than any supported release, or pass --release"
    )


def decide(findings: list[ReleaseFinding], force: bool) -> ReleaseFinding:
    """Combine the findings: the admin API's or the user's release, checked against what the Stack serves.

    Findings that disagree about the profile are refused unless ``force``, which keeps the user's word.
    """
    sentences = [s for f in findings for s in f.sentences]
    by_source = {f.source: f for f in findings if f.profile}
    user, admin = by_source.get("user"), by_source.get("admin")
    observed = by_source.get("providers") or by_source.get("cloud")
    chosen = user if force and user else admin or user or observed
    if chosen is None:
        sentences.append("Nothing showed the release: pass --release, or credentials so the provider list can be read.")
        return ReleaseFinding("none", None, sentences=sentences)
    disagreeing = [f for f in (user, admin, observed) if f and f.profile != chosen.profile]
    if disagreeing:
        summary = "; ".join(f"{f.source}: {f.profile}" + (f" (release {f.release})" if f.release else "") for f in [chosen, *disagreeing])
        if not force:
            raise DiscoveryError(
                f"the evidence about the API profile disagrees ({summary}); check --release, "
                "or add --force to use the release you gave anyway"
            )
        sentences.append(f"The evidence disagrees ({summary}); --force keeps {chosen.profile}.")
    elif user and admin and user.release != admin.release:
        sentences.append(f"You gave release {user.release}, the Stack reports {admin.release}; both need {admin.profile}.")
    return ReleaseFinding(chosen.source, chosen.profile, chosen.release, chosen.build, sentences)
