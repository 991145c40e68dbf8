"""Tenant, credentials and tokens: the identity half of discovery."""

from __future__ import annotations

import re
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from generator._util.files import FileTooLarge, NotARegularFile, read_regular_file, why_unreadable
from generator._util.redact import redact, remember
from generator.discovery.clouds import MICROSOFT_LOGIN_HOSTS
from generator.discovery.http import (
    DiscoveryError,
    HttpStatusError,
    StackHttp,
    is_untrusted_certificate,
    one_line,
    tls_reason,
    transport_failure,
    trusted_session,
)
from generator.discovery.metadata import ADFS, StackMetadata

MAX_CERTIFICATE_FILE_BYTES = 1024 * 1024  # a PEM with a certificate chain and its key is a few kB
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# A directory's name as Azure AD resolves it (contoso.onmicrosoft.com, contoso.com); "adfs" on ADFS Stacks.
TENANT_NAME = re.compile(r"^(adfs|[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+)$", re.IGNORECASE)


@dataclass
class ServicePrincipal:
    """A service principal's sign-in: a client secret, or a certificate (PEM with its private key)."""

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    certificate_path: str | None = None
    certificate_password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # Wherever a principal is made (options, a teams file, a project's file), its secrets are known to redact.
        remember(self.client_secret)
        remember(self.certificate_password)

    @classmethod
    def from_credentials(cls, client_id: str | None, *, secret: str | None = None, certificate: str | None = None,
                         certificate_password: str | None = None) -> ServicePrincipal | None:
        """The one rule for every source (options, a teams entry, a project's file, copier answers): a certificate,
        when one is named, signs in with its password if any; else the secret; without a client id or either, None."""
        if not client_id:
            return None
        if certificate:
            return cls(client_id, certificate_path=certificate, certificate_password=certificate_password or None)
        return cls(client_id, client_secret=secret) if secret else None


def needs_instance_discovery_disabled(metadata: StackMetadata) -> bool:
    """True unless the login host is one of Microsoft's own."""
    return urlsplit(metadata.login_endpoint).hostname not in MICROSOFT_LOGIN_HOSTS


def resolve_tenant(http: StackHttp, metadata: StackMetadata, tenant: str | None) -> tuple[str | None, str]:
    """The tenant id to sign in with, and a sentence saying how it was found.

    ADFS Stacks always use ``adfs``. Azure AD Stacks take a GUID as given, resolve a directory name
    through its OpenID configuration, and without either ask Resource Manager's 401 challenge.
    """
    if metadata.identity_system == ADFS:
        if tenant and tenant.lower() != "adfs":
            raise DiscoveryError(
                f"--tenant {tenant}: this Stack signs in with ADFS ({metadata.login_endpoint}), whose tenant is always "
                "'adfs'; drop --tenant"
            )
        return "adfs", "ADFS Stacks use the tenant 'adfs'"
    if tenant and GUID.match(tenant):
        return tenant.lower(), f"tenant {tenant.lower()} as given"
    if tenant:
        url = f"{metadata.login_endpoint}{tenant}/.well-known/openid-configuration"
        try:
            body = http.get(url, "resolving the tenant name").body
        except HttpStatusError as exc:
            if exc.status in (400, 404):
                raise DiscoveryError(
                    f"tenant {tenant!r} is not known to {metadata.login_endpoint}; give the directory's GUID or its "
                    "name as in contoso.onmicrosoft.com"
                ) from None
            raise
        issuer = body.get("issuer", "") if isinstance(body, dict) else ""
        match = re.search(r"/([0-9a-fA-F-]{36})(?:/|$)", issuer)
        if not match or not GUID.match(match.group(1)):
            raise DiscoveryError(f"the OpenID configuration of tenant {tenant!r} names no tenant GUID in its issuer ({issuer!r})")
        return match.group(1).lower(), f"tenant {tenant} resolved to {match.group(1).lower()} through its OpenID configuration"
    return _tenant_from_challenge(http, metadata)


def _tenant_from_challenge(http: StackHttp, metadata: StackMetadata) -> tuple[str | None, str]:
    url = f"{metadata.resource_manager}subscriptions?api-version=2016-06-01"
    response = http.get(url, "asking Resource Manager for its tenant", accept=(401,))
    challenge = response.headers.get("WWW-Authenticate", "")
    match = re.search(r'authorization_uri="[^"]*/([0-9a-fA-F-]{36})"', challenge)
    if match and GUID.match(match.group(1)):
        return match.group(1).lower(), f"tenant {match.group(1).lower()} from Resource Manager's sign-in challenge"
    return None, "no tenant given, and Resource Manager's challenge names none; pass --tenant"


# The HTTP status of the token endpoint's last answer in this thread: azure-identity's error for an OAuth error body
# carries only its description ("throttled"), not the status that tells a busy host from refused credentials.
_last_answer = threading.local()


def _note_status(response: Any) -> None:
    """azure-core's ``raw_response_hook`` for the credential's pipeline: note the token endpoint's status."""
    if urlsplit(str(response.http_request.url)).path.endswith("/token"):  # not the discovery requests around it
        _last_answer.status = getattr(response.http_response, "status_code", None)


def build_credential(metadata: StackMetadata, tenant_id: str, principal: ServicePrincipal, trust: ssl.SSLContext,
                     timeout: float = 15.0) -> Any:
    """An azure-identity credential set up for this Stack: authority, tenant, instance discovery, and TLS
    that trusts the public CAs plus the Stack's root (``trust``), with ``timeout`` per request."""
    from azure.core.pipeline.transport import RequestsTransport
    from azure.identity import CertificateCredential, ClientSecretCredential

    options: dict[str, Any] = {
        "authority": metadata.authority_host,
        "disable_instance_discovery": needs_instance_discovery_disabled(metadata),
        "retry_total": 2,
        "raw_response_hook": _note_status,
        "transport": RequestsTransport(session=trusted_session(trust, attempt_limit=timeout), session_owner=False,
                                       connection_timeout=timeout, read_timeout=timeout),
    }
    if principal.certificate_path:
        path = principal.certificate_path
        try:
            # Read here, not by azure-identity: a named pipe or a device must not hang or flood the sign-in.
            pem = read_regular_file(Path(path).expanduser(), MAX_CERTIFICATE_FILE_BYTES)
            return CertificateCredential(
                tenant_id, principal.client_id, certificate_data=pem,
                password=principal.certificate_password.encode() if principal.certificate_password else None,
                **options,
            )
        except (FileNotFoundError, IsADirectoryError, NotARegularFile, FileTooLarge) as exc:
            raise DiscoveryError(f"certificate {path}{why_unreadable(exc)}; give the PEM holding the certificate and its private key") from None
        except (ValueError, TypeError, OSError) as exc:
            hint = "" if principal.certificate_password else " (if its key is encrypted, give the password with --certificate-password-env VAR)"
            raise DiscoveryError(f"certificate {path} cannot be loaded: {one_line(str(exc), 160)}{hint}") from None
    return ClientSecretCredential(tenant_id, principal.client_id, principal.client_secret or "", **options)


def acquire_token(credential: Any, scope: str, where: str) -> str:
    """A token for ``scope``, or a one-line error naming the real cause: TLS, the network, or what the
    identity system said of the credentials (any secret it quotes back is redacted)."""
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError

    _last_answer.status = None
    try:
        return credential.get_token(scope).token
    except (ClientAuthenticationError, ServiceRequestError, ServiceResponseError, ValueError) as exc:
        # ValueError: MSAL's word for an answer that is not a token response (an HTML page, an empty 307).
        said = redact(getattr(exc, "message", None) or str(exc))
        detail = one_line(said).removeprefix("Authentication failed: ")
        cause = _transport_cause(detail)
        busy = _busy_answer(exc, detail)
        if busy:
            raise DiscoveryError(f"sign-in at {where} failed: the sign-in host is busy ({busy}, after retries); try again "
                                 "in a minute, or with a longer --timeout") from None
        if cause == "tls":
            raise DiscoveryError(
                f"sign-in at {where} failed: its TLS certificate is not trusted ({tls_reason(' '.join(said.split()))}); the sign-in host must "
                "chain to a public CA (certifi's, or REQUESTS_CA_BUNDLE) or to the Stack's root CA given with --root-ca (against "
                "azs-scaffold's emulator: export REQUESTS_CA_BUNDLE=<public_ca_bundle of its --info-file>)"
            ) from None
        if cause == "not-json":
            raise DiscoveryError(f"sign-in at {where} failed: its answer is not a token response (not JSON); is the "
                                 "login endpoint in the Stack's metadata its sign-in host?") from None
        if cause:
            raise DiscoveryError(f"sign-in at {where} failed: {cause}; check that the sign-in host is reachable from here "
                                 "and any proxy settings") from None
        if not isinstance(exc, ClientAuthenticationError):
            raise DiscoveryError(f"sign-in at {where} failed: {detail}") from None
        raise DiscoveryError(
            f"sign-in at {where} failed: {detail}; check the client id, its secret or certificate, and the tenant"
        ) from None


_BUSY = {429: "TooManyRequests", 502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout"}


def _busy_answer(exc: Exception, detail: str) -> str | None:
    """'HTTP 429 TooManyRequests' and the like when the identity server said it is throttling or down, else None."""
    status = getattr(getattr(exc, "response", None), "status_code", None) or getattr(_last_answer, "status", None)
    if status in _BUSY:
        return f"HTTP {status} {_BUSY[status]}"
    for code, name in _BUSY.items():
        if re.search(rf"\b{name}\b", detail):
            return f"HTTP {code} {name}"
    return None


def _transport_cause(detail: str) -> str | None:
    """'tls', 'not-json', a network problem in words, or None when the identity system itself answered."""
    lowered = detail.lower()
    if is_untrusted_certificate(detail):
        return "tls"
    # The SDK words a proxy's refusal as any other failure to connect: the proxy is named first.
    if "tunnel connection failed" in lowered:
        return "the proxy (HTTPS_PROXY) refused the tunnel"
    if "unable to connect to proxy" in lowered:
        return "the proxy (HTTPS_PROXY) could not be reached"
    if "not in json format" in lowered or "expecting value" in lowered:
        return "not-json"
    return transport_failure(detail)
