"""Azure AD and ADFS, as much of them as a service principal's client-credentials flow uses.

Tokens are JWT-shaped (the claims clients read) with a random signature, bound to one audience; they expire.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

from azs_emulator.api_tables import adfs_expands_default_scope
from azs_emulator.config import EmulatorContext
from azs_emulator.protocol import ArmError, OAuthError, Request, Response
from azs_emulator.routing import ANYONE, IDENTITY, Route, route

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

_JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _jwt_part(token: str, index: int) -> dict:
    """The header (0) or claims (1) of a JWT, unverified; ValueError when it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT")
    value = json.loads(_b64decode(parts[index]))
    if not isinstance(value, dict):
        raise ValueError("not a JWT")
    return value


# Scope words a client may send beside ``<audience>/.default`` (the official samples send them).
_OIDC_SCOPES = {"openid", "profile", "offline_access"}


@dataclass(frozen=True)
class IssuedToken:
    client_id: str
    audience: str
    expires_at: float


class IdentityService:
    """Token issuing (Azure AD v2 or ADFS, by the emulator's identity mode) and token checks."""

    def __init__(self, ctx: EmulatorContext) -> None:
        self.ctx = ctx
        self._tokens: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()

    # -- discovery documents -------------------------------------------------------------------

    def resolve_tenant(self, tenant: str) -> str:
        """The tenant GUID for a GUID or directory name; Azure AD's error for an unknown one."""
        data = self.ctx.state.data
        if tenant.lower() in (data["tenant_id"].lower(), data["tenant_domain"].lower()):
            return data["tenant_id"]
        raise OAuthError(
            400,
            "invalid_tenant",
            f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
            "and are signing into the correct cloud.",
        )

    def openid_configuration(self, tenant: str, v2: bool) -> Response:
        base = self.ctx.identity_base_url
        if self.ctx.is_adfs:
            return Response(
                200,
                {
                    "issuer": f"{base}/adfs",
                    "authorization_endpoint": f"{base}/adfs/oauth2/authorize/",
                    "token_endpoint": f"{base}/adfs/oauth2/token/",
                    "jwks_uri": f"{base}/adfs/discovery/keys",
                    "response_types_supported": ["code", "id_token", "token"],
                    "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
                    "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
                },
            )
        tenant_id = self.resolve_tenant(tenant)
        if v2:
            issuer, token = f"{base}/{tenant_id}/v2.0", f"{base}/{tenant}/oauth2/v2.0/token"
            authorize = f"{base}/{tenant}/oauth2/v2.0/authorize"
        else:
            # Azure AD's v1 document names the tenant GUID in its issuer; tools read it from there.
            issuer, token = f"https://sts.windows.net/{tenant_id}/", f"{base}/{tenant_id}/oauth2/token"
            authorize = f"{base}/{tenant_id}/oauth2/authorize"
        return Response(
            200,
            {
                "issuer": issuer,
                "authorization_endpoint": authorize,
                "token_endpoint": token,
                "jwks_uri": f"{base}/{tenant_id}/discovery/v2.0/keys",
                "tenant_region_scope": "NA",
                "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            },
        )

    def instance_discovery(self, request: Request) -> Response:
        """Azure AD's instance discovery, which MSAL asks after a failed sign-in at a host it knows (and before any,
        where instance discovery is left on for another host): this cloud's aliases and the tenant's configuration."""
        authorize = urlsplit(request.query.get("authorization_endpoint", ""))
        tenant = authorize.path.strip("/").split("/", 1)[0] or "common"
        host = urlsplit(self.ctx.identity_base_url).netloc
        return Response(200, {
            "tenant_discovery_endpoint": f"{self.ctx.identity_base_url}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        })

    # -- the token endpoint --------------------------------------------------------------------

    def issue_token(self, request: Request, tenant: str) -> Response:
        if not self.ctx.is_adfs:
            self.resolve_tenant(tenant)
        form = request.form()
        if form.get("grant_type") != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
        data = self.ctx.state.data
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if not client_id and form.get("client_assertion"):
            client_id = str(_jwt_part(form["client_assertion"], 1).get("iss", ""))
        if client_id.lower() != data["client_id"].lower():
            raise OAuthError(
                401 if self.ctx.is_adfs else 400,
                "invalid_client" if self.ctx.is_adfs else "unauthorized_client",
                f"MSIS9607: The 'client_id' parameter '{client_id}' is invalid."
                if self.ctx.is_adfs
                else f"AADSTS700016: Application with identifier '{client_id}' was not found in the directory "
                f"'{data['tenant_domain']}'.",
            )
        if form.get("client_assertion_type") == _JWT_BEARER:
            self._check_assertion(form.get("client_assertion", ""), data["client_id"])
        elif not secrets.compare_digest(secret.encode(), data["client_secret"].encode()):
            raise OAuthError(
                401,
                "invalid_client",
                "MSIS9622: Client authentication failed. Please verify the credential provided for client authentication is valid."
                if self.ctx.is_adfs
                else f"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the "
                f"client secret value, not the client secret ID, for a secret added to app '{client_id}'.",
            )
        # A v1 request (Azure AD's /oauth2/token, or AD FS asked as ADAL asks it) names the audience as ``resource``.
        resource = form.get("resource") if not form.get("scope") else None
        audience = self._audience_of_resource(resource) if resource else self._audience_of_scope(form.get("scope", ""))
        lifetime = self.ctx.config.token_lifetime
        token = self._access_token(audience, lifetime)
        issued = time.time()
        with self._lock:
            self._tokens[token] = IssuedToken(data["client_id"], audience, issued + lifetime)
        body: dict[str, Any] = {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}
        if resource:  # docs: the v1 answer also names the resource and its times, as strings of seconds
            body.update(expires_in=str(lifetime), ext_expires_in=str(lifetime), expires_on=str(int(issued) + lifetime),
                        not_before=str(int(issued)), resource=resource)
        return Response(200, body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _audience_of_resource(self, resource: str) -> str:
        """The audience a v1 ``resource`` names (with or without its trailing slash)."""
        for audience in (self.ctx.audience(), self.ctx.audience(admin=True), self.ctx.vault_audience, self.ctx.graph_audience):
            if resource.rstrip("/") == audience.rstrip("/"):
                return audience
        code = "MSIS9602" if self.ctx.is_adfs else "AADSTS500011"  # Azure AD's code; AD FS's: assumed
        raise OAuthError(400, "invalid_resource", f"{code}: The resource principal named {resource} was not found.")

    def _access_token(self, audience: str, lifetime: int) -> str:
        """A JWT-shaped token with the claims clients read (``oid``, ``tid``, ``appid``); its signature is
        random, so it cannot be forged, and the emulator knows it by its issue record, not by verifying it."""
        data, issued = self.ctx.state.data, int(time.time())
        issuer = f"{self.ctx.identity_base_url}/adfs" if self.ctx.is_adfs else f"https://sts.windows.net/{data['tenant_id']}/"
        claims = {"aud": audience, "iss": issuer, "iat": issued, "nbf": issued, "exp": issued + lifetime,
                  "appid": data["client_id"], "oid": self.ctx.service_principal_object_id, "sub": self.ctx.service_principal_object_id,
                  "tid": data["tenant_id"], "ver": "1.0"}
        header = {"typ": "JWT", "alg": "RS256", "kid": "azs-emulator"}
        return ".".join([_b64encode(json.dumps(header).encode()), _b64encode(json.dumps(claims).encode()),
                         _b64encode(secrets.token_bytes(64))])

    def _audience_of_scope(self, scope: str) -> str:
        words = scope.split()
        resource_scopes = [w for w in words if w not in _OIDC_SCOPES]
        build = self.ctx.config.build  # only a build named explicitly: unnamed, every release takes .default (assumed)
        if self.ctx.is_adfs and build is not None and len(words) == 1 and not adfs_expands_default_scope(build):
            # docs: AD FS takes a bare .default scope from hotfix 1.2108.2.130 on; before it, the official samples'
            # scope (openid profile offline_access <audience>/.default) is what signs in.
            raise OAuthError(400, "invalid_scope", f"The scope {scope!r} is not valid on AD FS of build {build}: it does "
                             "not expand '/.default' before hotfix 1.2108.2.130. Send 'openid profile offline_access "
                             f"{scope}', or update the Stack.")
        for audience in (self.ctx.audience(), self.ctx.audience(admin=True), self.ctx.vault_audience, self.ctx.graph_audience):
            accepted = {f"{audience}/.default", f"{audience.rstrip('/')}/.default"}
            if len(resource_scopes) == 1 and resource_scopes[0] in accepted:
                return audience
        raise OAuthError(
            400,
            "invalid_scope",
            f"AADSTS70011: The provided request must include a 'scope' input parameter. The provided value for the input "
            f"parameter 'scope' is not valid. The scope {scope!r} does not exist; use '{self.ctx.audience()}/.default'.",
        )

    def _check_assertion(self, assertion: str, client_id: str) -> None:
        """A certificate credential's signed JWT: a registered certificate, a valid signature, our audience."""

        def refuse(why: str) -> NoReturn:
            code = "MSIS9622" if self.ctx.is_adfs else "AADSTS700027"
            raise OAuthError(401, "invalid_client", f"{code}: Client assertion failed signature validation or is invalid: {why}")

        try:
            header, claims = _jwt_part(assertion, 0), _jwt_part(assertion, 1)
            signed, signature = assertion.rsplit(".", 1)
            signature_bytes = _b64decode(signature)
        except ValueError:
            refuse("it is not a JWT")
        certificate = self._registered_certificate(header)
        if certificate is None:
            refuse("its certificate (x5t) is not registered for the application")
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        scheme = {"RS256": padding.PKCS1v15(), "PS256": padding.PSS(padding.MGF1(hashes.SHA256()), 32)}.get(str(header.get("alg")))
        if scheme is None:
            refuse(f"algorithm {header.get('alg')!r} is not supported")
        public_key = certificate.public_key()
        # RS256 and PS256 are RSA signatures: a certificate of another key type cannot have made one.
        if not isinstance(public_key, rsa.RSAPublicKey):
            refuse("the signature does not match the certificate")
        try:
            public_key.verify(signature_bytes, signed.encode(), scheme, hashes.SHA256())
        except InvalidSignature:
            refuse("the signature does not match the certificate")
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            refuse("iss and sub must be the client id")
        if not str(claims.get("aud", "")).startswith(self.ctx.identity_base_url):
            refuse(f"audience {claims.get('aud')!r} is not this token endpoint")
        if float(claims.get("exp", 0)) <= time.time():
            refuse("it has expired")

    def _registered_certificate(self, header: dict[str, Any]) -> Certificate | None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        for pem in self.ctx.config.client_certificates:
            certificate = x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)
            thumbprints = {
                "x5t": _b64encode(certificate.fingerprint(hashes.SHA1())),
                "x5t#S256": _b64encode(certificate.fingerprint(hashes.SHA256())),
            }
            if any(str(header.get(k, "")).rstrip("=") == v for k, v in thumbprints.items()):
                return certificate
        return None

    # -- bearer token checks, for Resource Manager ---------------------------------------------

    def authenticate(self, request: Request, admin: bool) -> IssuedToken:
        """The token of a Resource Manager request, or the 401 ARM answers."""
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            self._unauthorized("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
        with self._lock:
            issued = self._tokens.get(header[7:].strip())
        if issued is None:
            self._unauthorized("InvalidAuthenticationToken", "The access token is invalid.")
        if issued.expires_at <= time.time():
            self._unauthorized(
                "ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than current UTC time."
            )
        if issued.audience != self.ctx.audience(admin=admin):
            self._unauthorized(
                "InvalidAuthenticationTokenAudience",
                f"The access token has been obtained for wrong audience or resource '{issued.audience}'. "
                f"It should exactly match one of the allowed audiences '{self.ctx.audience(admin=admin)}'.",
            )
        return issued

    def authenticate_vault(self, request: Request) -> IssuedToken:
        """The token of a Key Vault data-plane request, or Key Vault's challenge: 401 naming the authority
        and the vault audience (``resource``), which clients answer with a token for that audience."""
        header = request.headers.get("authorization", "")
        issued = None
        if header.lower().startswith("bearer "):
            with self._lock:
                issued = self._tokens.get(header[7:].strip())
        if issued is None or issued.expires_at <= time.time() or issued.audience != self.ctx.vault_audience:
            challenge = f'Bearer authorization="{self.ctx.authorization_uri()}", resource="{self.ctx.vault_audience}"'
            message = ("AKV10000: Request is missing a Bearer or PoP token." if issued is None
                       else "AKV10022: Invalid audience or expired token.")
            raise ArmError(401, "Unauthorized", message, headers={"WWW-Authenticate": challenge})
        return issued

    def authenticate_graph(self, request: Request) -> IssuedToken:
        """The token of a directory (graph) request: issued for the graph's audience, or the 401 graph answers."""
        header = request.headers.get("authorization", "")
        with self._lock:
            issued = self._tokens.get(header[7:].strip()) if header.lower().startswith("bearer ") else None
        if issued is None or issued.expires_at <= time.time() or issued.audience != self.ctx.graph_audience:
            raise ArmError(401, "InvalidAuthenticationToken", "Access token is empty or invalid, or not for this audience.")
        return issued

    def _unauthorized(self, code: str, message: str) -> NoReturn:
        challenge = f'Bearer authorization_uri="{self.ctx.authorization_uri()}", error="invalid_token", error_description="{message}"'
        raise ArmError(401, code, message, headers={"WWW-Authenticate": challenge})

    def routes(self) -> list[Route]:
        """Sign-in routes: ADFS's, or Azure AD's per tenant (a GUID, a domain name, common, organizations)."""
        if self.ctx.is_adfs:
            return [
                route("GET", r"/adfs/\.well-known/openid-configuration", lambda request: self.openid_configuration("adfs", v2=False),
                      listener=IDENTITY, auth=ANYONE),
                route("POST", r"/adfs/oauth2/token", lambda request: self.issue_token(request, "adfs"), listener=IDENTITY, auth=ANYONE),
            ]
        tenant = r"/([0-9a-f-]{36}|[^/]*\.[^/]*|common|organizations)"
        return [
            route("GET", r"/common/discovery/instance", self.instance_discovery, listener=IDENTITY, auth=ANYONE),
            route("GET", tenant + r"(/v2\.0)?/\.well-known/openid-configuration",
                  lambda request, name, v2: self.openid_configuration(name, v2=bool(v2)), listener=IDENTITY, auth=ANYONE),
            route("POST", tenant + r"/oauth2/v2\.0/token", self.issue_token, listener=IDENTITY, auth=ANYONE),
            # v1, which the v1 discovery document above names: client credentials with resource=, as ADAL and go-autorest ask
            route("POST", tenant + r"/oauth2/token", self.issue_token, listener=IDENTITY, auth=ANYONE),
        ]
