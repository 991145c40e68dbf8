"""The X.509 side of Key Vault's certificates (2016-10-01 data plane): a certificate policy checked and completed with
Key Vault's defaults (or read from an imported certificate), a self-signed certificate issued by a policy, an import's
PFX or PEM read and checked, and the managed secret's value a certificate is kept as. No requests or state here:
:mod:`keyvault_certificates` serves the routes and keeps the certificates."""

from __future__ import annotations

import base64
import datetime as dt
import re
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID

from azs_emulator import arm_errors
from azs_emulator.protocol import without_nulls

PKCS12, PEM = "application/x-pkcs12", "application/x-pem-file"
_KEY_TYPES = ("RSA", "RSA-HSM")  # 2016-10-01's KeyProperties has no curve: elliptic-curve certificates came later
_KEY_SIZES = (2048, 3072, 4096)
_KEY_USAGES = {"digitalSignature": "digital_signature", "nonRepudiation": "content_commitment",
               "keyEncipherment": "key_encipherment", "dataEncipherment": "data_encipherment",
               "keyAgreement": "key_agreement", "keyCertSign": "key_cert_sign", "cRLSign": "crl_sign",
               "encipherOnly": "encipher_only", "decipherOnly": "decipher_only"}
# What Key Vault fills in when a policy leaves them out (the specification's examples show them so).
_DEFAULT_EKUS = [ExtendedKeyUsageOID.SERVER_AUTH.dotted_string, ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string]
_DEFAULT_KEY_USAGE = ["digitalSignature", "keyEncipherment"]
_DEFAULT_LIFETIME_ACTIONS = [{"trigger": {"lifetime_percentage": 80}, "action": {"action_type": "AutoRenew"}}]


def b64url(data: bytes) -> str:
    """Base64url without padding (a thumbprint as Key Vault shows it)."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def subject_name(text: str) -> x509.Name:
    """An X.509 name from a policy's subject as Key Vault takes it (``CN=a, O=b``: spaces after the commas)."""
    parts = [p.strip() for p in re.split(r",(?=\s*[A-Za-z][A-Za-z0-9.]*\s*=)", text) if p.strip()]
    try:
        return x509.Name.from_rfc4514_string(",".join(reversed(parts)))
    except ValueError as error:
        raise arm_errors.vault_bad_parameter(f"The subject name '{text}' is not a valid X.509 distinguished name.") from error


def stored_policy(given: Any, stamp: int, existing: dict[str, Any] | None = None, imported: bool = False) -> dict[str, Any]:
    """A stored policy from a request's, with Key Vault's defaults for what it leaves out; an imported certificate's
    issuer may be ``Unknown`` (Key Vault's name for one it did not issue)."""
    if not isinstance(given, dict):
        raise arm_errors.vault_bad_parameter("Property policy is required.")
    given = without_nulls(given)
    base = existing or {}
    key = {"exportable": True, "kty": "RSA", "key_size": 2048, "reuse_key": False,
           **base.get("key_props", {}), **given.get("key_props", {})}
    if str(key["kty"]).upper() not in _KEY_TYPES:
        raise arm_errors.vault_bad_parameter(f"Property policy.key_props.kty '{key['kty']}' is not supported: use RSA or RSA-HSM.")
    key["kty"] = str(key["kty"]).upper()
    if key["key_size"] not in _KEY_SIZES:
        raise arm_errors.vault_bad_parameter(f"Property policy.key_props.key_size {key['key_size']} is not supported: "
                                             "use 2048, 3072 or 4096.")
    secret = {"contentType": PKCS12, **base.get("secret_props", {}), **given.get("secret_props", {})}
    if secret["contentType"] not in (PKCS12, PEM):
        raise arm_errors.vault_bad_parameter(f"Property policy.secret_props.contentType '{secret['contentType']}' is "
                                             f"not supported: use {PKCS12} or {PEM}.")
    x509_props = {"ekus": _DEFAULT_EKUS, "key_usage": _DEFAULT_KEY_USAGE, "validity_months": 12,
                  **base.get("x509_props", {}), **given.get("x509_props", {})}
    if not x509_props.get("subject") and not any((x509_props.get("sans") or {}).values()):
        raise arm_errors.vault_bad_parameter("Property policy.x509_props needs a subject or subject alternative names.")
    unknown = [u for u in x509_props["key_usage"] if u not in _KEY_USAGES]
    if unknown:
        raise arm_errors.vault_bad_parameter(f"Property policy.x509_props.key_usage has unknown usages {unknown}.")
    if not isinstance(x509_props["validity_months"], int) or x509_props["validity_months"] < 1:
        raise arm_errors.vault_bad_parameter("Property policy.x509_props.validity_months must be a positive number.")
    issuer = {**base.get("issuer", {}), **given.get("issuer", {})}
    # Unknown stays allowed for an imported certificate's later policy updates: its stored issuer is Unknown.
    was_imported = imported or str(base.get("issuer", {}).get("name", "")).lower() == "unknown"
    served = ("Self", "Unknown") if was_imported else ("Self",)
    chosen = next((s for s in served if s.lower() == str(issuer.get("name", "")).lower()), None)
    if chosen is None:
        raise arm_errors.vault_bad_parameter(f"Issuer '{issuer.get('name')}' is not served: this vault issues certificates "
                                             "with the issuer 'Self' only (no issuer providers are set up).")
    issuer["name"] = chosen
    attributes = {"enabled": True, **base.get("attributes", {}), **given.get("attributes", {})}
    attributes.update(created=base.get("attributes", {}).get("created", stamp), updated=stamp)
    return {"key_props": key, "secret_props": secret, "x509_props": x509_props,
            "lifetime_actions": given.get("lifetime_actions", base.get("lifetime_actions", _DEFAULT_LIFETIME_ACTIONS)),
            "issuer": issuer, "attributes": attributes}



def issue_self_signed(policy: dict[str, Any], key: rsa.RSAPrivateKey) -> x509.Certificate:
    """A self-signed certificate for ``key`` by ``policy``: valid from ten minutes ago (as Key Vault dates them)."""
    props = policy["x509_props"]
    subject = subject_name(props["subject"]) if props.get("subject") else x509.Name([])
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=10))
               .not_valid_after(now + dt.timedelta(days=round(props["validity_months"] * 365 / 12))))
    usages = {flag: False for flag in _KEY_USAGES.values()}
    usages.update({_KEY_USAGES[u]: True for u in props["key_usage"]})
    if not usages["key_agreement"]:  # encipherOnly and decipherOnly mean something only with keyAgreement
        usages.update(encipher_only=False, decipher_only=False)
    builder = builder.add_extension(x509.KeyUsage(**usages), critical=True)
    if props.get("ekus"):
        builder = builder.add_extension(x509.ExtendedKeyUsage([x509.ObjectIdentifier(o) for o in props["ekus"]]),
                                        critical=False)
    sans = props.get("sans") or {}
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in sans.get("dns_names", [])]
    names += [x509.RFC822Name(e) for e in sans.get("emails", [])]
    names += [x509.OtherName(x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"), _utf8_der(u)) for u in sans.get("upns", [])]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    return builder.sign(key, hashes.SHA256())


def _utf8_der(text: str) -> bytes:
    """A UPN's value as an OtherName holds it: a DER UTF8String."""
    data = text.encode()
    if len(data) >= 128:
        raise arm_errors.vault_bad_parameter("A user principal name in the subject alternative names is too long.")
    return bytes([0x0C, len(data)]) + data


def secret_value(cert: x509.Certificate, key: rsa.RSAPrivateKey | None, content_type: str) -> str:
    """The managed secret's value: a PFX without a password, base64 (PKCS#12), or the key and certificate in PEM."""
    if content_type == PEM:
        key_pem = b"" if key is None else key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                            serialization.NoEncryption())
        return (key_pem + cert.public_bytes(serialization.Encoding.PEM)).decode()
    pfx = pkcs12.serialize_key_and_certificates(None, key, cert, None, serialization.NoEncryption())
    return base64.b64encode(pfx).decode()


def load_import(value: str, password: str | None, content_type: str) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """The key and certificate of an import: PEM (as text or base64), or a base64 PFX (with its password, if any).
    The key must be the certificate's (Key Vault refuses a PEM or PFX whose key does not match: BadParameter)."""
    if password and "\x00" in password:  # no PFX password holds NUL; the crypto library panics on one (past any handler)
        raise arm_errors.vault_bad_parameter(f"The certificate to import could not be read as {content_type} "
                                             "(with the password given, if any).")
    secret = password.encode() if password else None
    key: object
    cert: x509.Certificate | None
    try:
        if content_type == PEM:
            # The spec's value is base64 (the SDK encodes PEM text too); Azure CLI sends the PEM text itself.
            data = value.encode() if value.lstrip().startswith("-----BEGIN") else base64.b64decode(value, validate=True)
            key = serialization.load_pem_private_key(data, secret)
            cert = x509.load_pem_x509_certificate(data[data.index(b"-----BEGIN CERTIFICATE-----"):])
        else:
            key, cert, _ = pkcs12.load_key_and_certificates(base64.b64decode(value), secret)
    except ValueError as error:
        raise arm_errors.vault_bad_parameter(f"The certificate to import could not be read as {content_type} "
                                             "(with the password given, if any).") from error
    if not isinstance(key, rsa.RSAPrivateKey) or cert is None:
        raise arm_errors.vault_bad_parameter("The certificate to import needs its RSA private key.")
    if key.public_key().public_numbers() != getattr(cert.public_key(), "public_numbers", lambda: None)():
        raise arm_errors.vault_bad_parameter("The private key to import does not match the certificate's public key.")
    return key, cert


def policy_of(cert: x509.Certificate, key: rsa.RSAPrivateKey, given: dict[str, Any]) -> dict[str, Any]:
    """An imported certificate's policy: what the request gives, the rest read from the certificate (as Key Vault
    derives it); its issuer is ``Unknown`` unless the request names one."""
    x509_props: dict[str, Any] = {"subject": ", ".join(reversed(cert.subject.rfc4514_string().split(","))),
                                  "validity_months": max(1, round((cert.not_valid_after_utc - cert.not_valid_before_utc).days * 12 / 365))}
    try:
        x509_props["ekus"] = [u.dotted_string for u in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value]
    except x509.ExtensionNotFound:
        x509_props["ekus"] = []
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        x509_props["key_usage"] = [name for name, attribute in _KEY_USAGES.items()
                                   if attribute not in ("encipher_only", "decipher_only") and getattr(usage, attribute)]
    except x509.ExtensionNotFound:
        x509_props["key_usage"] = []
    return {"key_props": {"kty": "RSA", "key_size": key.key_size, **(given.get("key_props") or {})},
            "secret_props": given.get("secret_props") or {"contentType": PKCS12},
            "x509_props": {**x509_props, **(given.get("x509_props") or {})},
            "issuer": given.get("issuer") or {"name": "Unknown"}, **({"attributes": given["attributes"]} if given.get("attributes") else {})}
