"""The service principal's credential, set up for this Stack, and what its tokens say.

On Azure AD Stacks it signs in at the authority ``stack.json`` names (login.microsoftonline.com for the public
cloud); on ADFS Stacks at the Stack's own ``adfs`` authority, with instance discovery off (ADFS has none). Its
requests verify TLS with the project's bundle (:mod:`trust`), as every client's do.
"""

from __future__ import annotations

import json
from typing import Any

from .files import ConfigError
from .settings import StackConfig
from .waiting import transport


def credential(config: StackConfig) -> Any:
    """An azure-identity credential for the service principal (a client secret, or a certificate)."""
    from azure.identity import CertificateCredential, ClientSecretCredential

    options = {"authority": config.authority_host, "disable_instance_discovery": config.disable_instance_discovery,
               "transport": transport(config)}
    if config.certificate_path:
        password = config.certificate_password.encode() if config.certificate_password else None
        return CertificateCredential(config.tenant_id, config.client_id, config.certificate_path, password=password, **options)
    return ClientSecretCredential(config.tenant_id, config.client_id, config.client_secret, **options)


def token_claims(token: str) -> dict[str, Any]:
    """The claims of an access token (a JWT), unverified: for reading who the token names, never for trust."""
    import base64

    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def service_principal_object_id(config: StackConfig, cred: Any) -> str:
    """The service principal's object id, for access policies: ``objectId`` from its file, else the ``oid`` claim
    of its own Resource Manager token."""
    if config.object_id:
        return config.object_id
    object_id = token_claims(cred.get_token(config.credential_scope).token).get("oid")
    if not object_id:
        raise ConfigError("the Stack's tokens do not name the service principal's object id (oid); add \"objectId\" to "
                          "the service principal file (on ADFS: the ObjectId the Stack operator's Get-GraphApplication shows)")
    return str(object_id)
