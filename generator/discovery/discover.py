"""``discover_stack``: from an ARM endpoint to identity system, tenant, release and profile."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from generator import catalog
from generator.discovery import release as evidence
from generator.discovery.http import DiscoveryError, HttpStatusError, StackHttp
from generator.discovery.identity import (
    GUID,
    TENANT_NAME,
    ServicePrincipal,
    acquire_token,
    build_credential,
    needs_instance_discovery_disabled,
    resolve_tenant,
)
from generator.discovery.metadata import StackMetadata, normalize_url, parse_metadata
from generator.discovery.roles import PrincipalRoles, read_roles
from generator.discovery.trust import tls_context

Progress = Callable[[str], None]

@dataclass
class DiscoveryRequest:
    """What the user gave discovery."""

    arm_endpoint: str
    root_ca: str | None = None
    tenant: str | None = None
    principal: ServicePrincipal | None = None
    subscription_id: str | None = None
    # Where subscription_id came from, for messages: an option, a project's answers file, a teams file.
    subscription_source: str = "--subscription-id"
    admin_endpoint: str | None = None
    release: str | None = None  # what the user gave: a release (2108) or a build (1.2108.2.65)
    force: bool = False
    timeout: float = 15.0  # seconds per HTTP request
    # The publicly trusted CAs (sign-in at login.microsoftonline.com); default: the environment's or certifi's.
    public_ca_bundle: str | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], principal: ServicePrincipal | None = None, **given: Any) -> DiscoveryRequest:
        """A request from settings under the names the answers, a teams entry and the options share (``arm_endpoint``,
        ``ca_cert``, ``tenant``, ...); an empty or missing setting is unset, and ``given`` overrides."""
        values: dict[str, Any] = {_FIELD_OF_SETTING.get(name, name): settings[name] for name in _SETTINGS
                                  if settings.get(name) not in (None, "")}
        values.update({name: str(values[name]) for name in _TEXT_FIELDS if name in values})
        return cls(**{"arm_endpoint": "", **values, "principal": principal, **given})

    @classmethod
    def for_emulator(cls, info: Mapping[str, Any], signed_in: bool = True, **given: Any) -> DiscoveryRequest:
        """A request for the emulator an info file describes (its endpoint and trust), signed in as its service
        principal unless ``signed_in`` is false."""
        principal = ServicePrincipal.from_credentials(info["client_id"], secret=info["client_secret"]) if signed_in else None
        return cls(arm_endpoint=info["arm_endpoint"], root_ca=info["root_ca"], public_ca_bundle=info["public_ca_bundle"],
                   principal=principal, **given)


_TEXT_SETTINGS = ("arm_endpoint", "ca_cert", "tenant", "subscription_id", "admin_endpoint", "stack_version", "public_ca_bundle")
_SETTINGS = (*_TEXT_SETTINGS, "force", "timeout")
# The answers and a teams entry keep their released names (docs/architecture.md's glossary); the request says the word.
_FIELD_OF_SETTING = {"stack_version": "release", "ca_cert": "root_ca"}
_TEXT_FIELDS = tuple(_FIELD_OF_SETTING.get(name, name) for name in _TEXT_SETTINGS)


@dataclass
class StackDiscovery:
    """Everything discovery learnt, and why it believes the profile."""

    metadata: StackMetadata
    tenant_id: str | None
    release: str | None  # the Stack release discovery decided (2108), not the one a user gave (DiscoveryRequest.release)
    build: str | None
    profile: str | None
    profile_evidence: list[str]
    root_ca: str | None
    subscription_id: str | None = None
    location: str | None = None
    credentials_proven: bool = False
    subscription_note: str = ""  # how the subscription was chosen, or why none was
    notes: list[str] = field(default_factory=list)
    public_ca_bundle: str | None = None  # as the request gave it
    roles: PrincipalRoles | None = None  # the signed-in principal's role assignments (None: not signed in)

    @property
    def disable_instance_discovery(self) -> bool:
        return needs_instance_discovery_disabled(self.metadata)

    def to_json(self) -> dict[str, Any]:
        """The ``discover --json`` object: exactly :data:`JSON_KEYS`, null where unknown."""
        return {key: value(self) for key, value in _JSON_FIELDS}


def _roles_json(found: StackDiscovery) -> list[dict[str, Any]] | None:
    if found.roles is None or found.roles.assignments is None:
        return None
    return [assignment.to_json() for assignment in found.roles.assignments]


# The fields of ``discover --json``, in order, each from a discovery.
_JSON_FIELDS: tuple[tuple[str, Callable[[StackDiscovery], Any]], ...] = (
    ("resource_manager", lambda found: found.metadata.resource_manager),
    ("login_endpoint", lambda found: found.metadata.login_endpoint),
    ("identity_system", lambda found: found.metadata.identity_system),
    ("authority_host", lambda found: found.metadata.authority_host),
    ("tenant_id", lambda found: found.tenant_id),
    ("audience", lambda found: found.metadata.audience),
    ("credential_scope", lambda found: found.metadata.credential_scope),
    ("portal", lambda found: found.metadata.portal),
    ("gallery", lambda found: found.metadata.gallery),
    ("graph", lambda found: found.metadata.graph),
    ("storage_suffix", lambda found: found.metadata.storage_suffix),
    ("keyvault_dns_suffix", lambda found: found.metadata.keyvault_dns_suffix),
    ("release", lambda found: found.release),
    ("profile", lambda found: found.profile),
    ("profile_evidence", lambda found: list(found.profile_evidence)),
    ("roles", _roles_json),
    # Released keys, kept for the scripts that read them (docs/architecture.md's glossary): the same value.
    ("stack_version", lambda found: found.release),
)
JSON_KEYS = tuple(key for key, _ in _JSON_FIELDS)


def fetch_metadata(http: StackHttp, resource_manager: str) -> StackMetadata:
    """Read and parse ``<ARM>/metadata/endpoints``: the array format first, the object format if refused."""
    what = "reading the Stack's metadata"
    try:
        body = http.get(f"{resource_manager}metadata/endpoints?api-version=2019-05-01", what).body
    except HttpStatusError as exc:
        if exc.status != 400:
            raise DiscoveryError(
                f"{exc}; is {resource_manager} the Resource Manager endpoint (https://management.<region>.<fqdn>/)?"
            ) from None
        body = http.get(f"{resource_manager}metadata/endpoints?api-version=2015-01-01", what).body
    if body is None:
        raise DiscoveryError(f"{what}: {resource_manager}metadata/endpoints answered an empty body; is this a Resource Manager endpoint?")
    return parse_metadata(body, resource_manager)


def _parallel(*calls: Callable[[], Any]) -> list[Any]:
    """Run independent requests at once; results in order, the first failure raised."""
    if len(calls) == 1:
        return [calls[0]()]
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.result() for future in futures]


def _subscription_and_region(http: StackHttp, metadata: StackMetadata, token: str, subscription: str,
                             source: str = "--subscription-id") -> str | None:
    """Prove the principal sees ``subscription``; its first region."""
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{metadata.resource_manager}subscriptions/{subscription}"
    try:
        _, locations = _parallel(
            lambda: http.get(f"{base}?api-version=2016-06-01", "reading the subscription", headers=headers),
            lambda: http.get(f"{base}/locations?api-version=2016-06-01", "listing regions", headers=headers).body,
        )
    except HttpStatusError as exc:
        if exc.status in (403, 404):
            raise DiscoveryError(
                f"subscription {subscription} is not visible to this service principal at {metadata.resource_manager} "
                f"({exc.arm_code or exc.status}); check {source} and that the principal has a role on it"
            ) from None
        raise
    names = [loc.get("name") for loc in (locations or {}).get("value", []) if loc.get("name")]
    return names[0] if names else None


def _sole_subscription(http: StackHttp, metadata: StackMetadata, token: str) -> tuple[str | None, str]:
    headers = {"Authorization": f"Bearer {token}"}
    listed = http.get(f"{metadata.resource_manager}subscriptions?api-version=2016-06-01", "listing subscriptions", headers=headers).body
    ids = [s["subscriptionId"] for s in (listed or {}).get("value", []) if s.get("state", "Enabled") == "Enabled"]
    if len(ids) != 1:
        hint = f"one of: {', '.join(ids)}" if ids else "give the principal a role on one first"
        return None, f"the service principal sees {len(ids)} enabled subscriptions; pass --subscription-id ({hint})"
    return ids[0], f"subscription {ids[0]}, the only one the service principal sees"


def _where_the_secret_goes(metadata: StackMetadata) -> str:
    """Said before a secret is sent: whether sign-in is at the Resource Manager's host or another one."""
    login, arm = urlsplit(metadata.login_endpoint), urlsplit(metadata.resource_manager)
    if (login.hostname, login.port) == (arm.hostname, arm.port):
        return "the Resource Manager's own host"
    return ("another host than the Resource Manager, as the Stack's metadata names it: expected on Azure AD Stacks "
            "and for ADFS; make sure it is the sign-in host you trust")


@dataclass
class ProvenPrincipal:
    """A service principal that signed in, and the subscription it will use."""

    credential: Any
    token: str
    subscription_id: str | None
    note: str  # how the subscription was chosen, or why none was


def _sign_in(http: StackHttp, metadata: StackMetadata, tenant_id: str | None, tenant_sentence: str,
             principal: ServicePrincipal, subscription_id: str | None, trust: ssl.SSLContext, progress: Progress) -> ProvenPrincipal:
    if tenant_id is None:
        raise DiscoveryError(f"cannot sign in: {tenant_sentence}")
    credential = build_credential(metadata, tenant_id, principal, trust, http.timeout)
    progress(f"Signing in as {principal.client_id} at {metadata.authority_host} ({_where_the_secret_goes(metadata)})")
    token = acquire_token(credential, metadata.credential_scope, metadata.login_endpoint)
    if subscription_id:
        return ProvenPrincipal(credential, token, subscription_id, f"subscription {subscription_id} as given")
    chosen, note = _sole_subscription(http, metadata, token)
    return ProvenPrincipal(credential, token, chosen, note)


def check_request(request: DiscoveryRequest) -> None:
    """Refuse identifiers that cannot be right before anything is sent: they go into URLs and forms."""
    principal = request.principal
    if principal is not None and not GUID.match(principal.client_id or ""):
        raise DiscoveryError(f"--client-id {principal.client_id!r} is not an application id: give the GUID "
                             "(like 00000000-0000-0000-0000-000000000000), not the application's name")
    if request.subscription_id and not GUID.match(request.subscription_id):
        raise DiscoveryError(f"{request.subscription_source} {request.subscription_id!r} is not a subscription id: give its GUID")
    if request.tenant and not (GUID.match(request.tenant) or TENANT_NAME.match(request.tenant)):
        raise DiscoveryError(f"--tenant {request.tenant!r} is neither a GUID nor a directory name like contoso.onmicrosoft.com")


def _refuse_the_operators_endpoint(resource_manager: str) -> None:
    """A project talks to the user Resource Manager; the operator's (``adminmanagement.``, or ``/admin/`` where one
    host serves both) has another audience and subscription, and samples there would act on the Stack itself."""
    parts = urlsplit(resource_manager)
    host = parts.hostname or ""
    if host.startswith("adminmanagement.") or parts.path.rstrip("/").endswith("/admin"):
        user = resource_manager.replace("://adminmanagement.", "://management.", 1) if host.startswith("adminmanagement.") \
            else resource_manager[: resource_manager.rstrip("/").rfind("/admin")] + "/"
        raise DiscoveryError(f"--arm-endpoint {resource_manager} is the Stack operator's (administrator) Resource Manager; "
                             f"projects use the user endpoint ({user}): give that, and the operator's as --admin-endpoint if at all")


def discover_stack(request: DiscoveryRequest, progress: Progress = lambda message: None) -> StackDiscovery:
    """Discover what a project for the Stack at ``request.arm_endpoint`` needs. Raises :class:`DiscoveryError`.

    Independent requests run at once: the metadata and Resource Manager's tenant challenge; then,
    once signed in, the subscription, its regions, its providers and the admin update API.
    """
    resource_manager = normalize_url(request.arm_endpoint, "--arm-endpoint")
    check_request(request)
    _refuse_the_operators_endpoint(resource_manager)
    trust = tls_context(request.root_ca, request.public_ca_bundle)
    http = StackHttp(trust, timeout=request.timeout, root_ca=request.root_ca)
    findings: list[evidence.ReleaseFinding] = []
    if request.release:
        findings.append(evidence.from_user(request.release))

    progress(f"Reading metadata from {resource_manager}")
    metadata = fetch_metadata(http, resource_manager)
    progress(f"Identity: {metadata.identity_system} at {metadata.login_endpoint}")
    tenant_id, tenant_sentence = resolve_tenant(http, metadata, request.tenant)
    if metadata.is_public_azure:
        findings.append(evidence.ReleaseFinding("cloud", catalog.LATEST, sentences=["The Resource Manager is global Azure's."]))

    root_ca = str(Path(request.root_ca).expanduser().resolve()) if request.root_ca else None
    result = StackDiscovery(metadata, tenant_id, None, None, None, [], root_ca, notes=[tenant_sentence],
                            public_ca_bundle=request.public_ca_bundle)
    if request.principal is not None:
        proven = _sign_in(http, metadata, tenant_id, tenant_sentence, request.principal, request.subscription_id, trust, progress)
        result.subscription_id, result.subscription_note, result.credentials_proven = proven.subscription_id, proven.note, True
        calls: list[Callable[[], Any]] = []
        subscription = proven.subscription_id
        if subscription:
            progress(f"Reading subscription {subscription}: regions and resource providers")
            calls.append(lambda: _subscription_and_region(http, metadata, proven.token, subscription, request.subscription_source))
            calls.append(lambda: evidence.from_providers(http, resource_manager, subscription, proven.token))
            calls.append(lambda: read_roles(http, metadata, proven.token, subscription))
        else:
            findings.append(evidence.ReleaseFinding("providers", None, sentences=[f"No provider list was read: {proven.note}."]))
        if request.admin_endpoint:
            admin = normalize_url(request.admin_endpoint, "--admin-endpoint")
            progress(f"Asking the admin update API at {admin}")
            calls.append(lambda: _admin_finding(http, metadata, admin, proven.credential))
        answers = _parallel(*calls) if calls else []
        if proven.subscription_id:
            result.location = answers.pop(0)
            findings.append(answers.pop(0))
            result.roles = answers.pop(0)
        findings.extend(answers)
    elif request.admin_endpoint:
        raise DiscoveryError("--admin-endpoint needs an operator's credentials: add --client-id and its secret or certificate")

    decision = evidence.decide(findings, request.force)
    result.release = decision.release
    result.build = decision.build
    result.profile = decision.profile
    result.profile_evidence = decision.sentences
    return result


def _admin_finding(http: StackHttp, metadata: StackMetadata, admin: str, credential: Any) -> evidence.ReleaseFinding:
    admin_metadata = fetch_metadata(http, admin)
    admin_token = acquire_token(credential, admin_metadata.credential_scope, metadata.login_endpoint)
    return evidence.from_admin(http, admin, admin_token)


def discover_for_principal(found: StackDiscovery, principal: ServicePrincipal, subscription_id: str | None,
                           timeout: float = 15.0, subscription_source: str = "--subscription-id") -> StackDiscovery:
    """``found`` (a Stack already discovered) for another service principal: its sign-in and
    subscription are proven; metadata, tenant, release and profile are reused."""
    trust = tls_context(found.root_ca, found.public_ca_bundle)
    http = StackHttp(trust, timeout=timeout, root_ca=found.root_ca)
    proven = _sign_in(http, found.metadata, found.tenant_id, "; ".join(found.notes), principal, subscription_id, trust,
                      lambda message: None)
    location = roles = None
    subscription = proven.subscription_id
    if subscription:
        location, roles = _parallel(
            lambda: _subscription_and_region(http, found.metadata, proven.token, subscription, subscription_source),
            lambda: read_roles(http, found.metadata, proven.token, subscription))
    return replace(found, subscription_id=proven.subscription_id, location=location, credentials_proven=True,
                   subscription_note=proven.note, roles=roles)
