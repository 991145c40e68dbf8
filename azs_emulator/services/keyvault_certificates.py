"""Key Vault's certificates data plane as a Stack's vaults serve it (2016-10-01, the version both hybrid profiles
name): create with a self-signed issuer, import, get, list, versions, policy, update, the pending operation and
delete. Shapes follow the 2016-10-01 data-plane specification (CertificateBundle, CertificatePolicy,
CertificateOperation); a certificate is backed by a managed secret of the same name and version holding its PFX
(or PEM), as Key Vault keeps it.

Not served: issuers other than ``Self`` (no issuer providers or ``Unknown``-issuer merge), contacts, the keys
data plane behind a certificate's ``kid``, backup and restore."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID

from azs_emulator import arm_errors
from azs_emulator.protocol import Request, Response, without_nulls
from azs_emulator.routing import KEYVAULT, VAULT_TOKEN, Handler, Route, route
from azs_emulator.state import PerOwnerStore

if TYPE_CHECKING:
    from azs_emulator.services.keyvault import KeyVaultService

PKCS12, PEM = "application/x-pkcs12", "application/x-pem-file"
_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
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
_IN_PROGRESS = ("Pending certificate created. Certificate request is in progress. This may take some time based on the "
                "issuer provider. Please check again later.")


def vault_route(methods: str, pattern: str, handler: Handler) -> Route:
    """A route on the vaults' own hosts, for a vault token."""
    return route(methods, pattern, handler, listener=KEYVAULT, auth=VAULT_TOKEN, subscription=False)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _subject(text: str) -> x509.Name:
    """An X.509 name from a policy's subject as Key Vault takes it (``CN=a, O=b``: spaces after the commas)."""
    parts = [p.strip() for p in re.split(r",(?=\s*[A-Za-z][A-Za-z0-9.]*\s*=)", text) if p.strip()]
    try:
        return x509.Name.from_rfc4514_string(",".join(reversed(parts)))
    except ValueError as error:
        raise arm_errors.vault_bad_parameter(f"The subject name '{text}' is not a valid X.509 distinguished name.") from error


class KeyVaultCertificates:
    """The certificates of every vault, kept beside their managed secrets."""

    def __init__(self, vaults: KeyVaultService) -> None:
        self.vaults = vaults
        self.arm = vaults.arm
        self.stored = PerOwnerStore(self.arm.data["vault_certificates"])  # this service owns the section

    def routes(self) -> list[Route]:
        name = r"/certificates/([^/]+)"
        return [
            vault_route("GET", r"/certificates", self.list_certificates),
            vault_route("POST", name + "/create", self.create),
            vault_route("POST", name + "/import", self.import_certificate),
            vault_route("GET", name + "/versions", self.list_versions),
            vault_route("GET|PATCH", name + "/policy", self.policy),
            vault_route("GET|DELETE", name + "/pending", self.pending),
            vault_route("DELETE", name, self.delete),
            vault_route("GET|PATCH", name + r"(?:/([^/]*))?", self.certificate),
            vault_route("GET|DELETE", r"/deletedcertificates/([^/]+)", self.deleted),
        ]

    # -- state -----------------------------------------------------------------------------------

    def _of(self, vault: dict[str, Any]) -> dict[str, Any]:
        return self.stored.of(vault["name"])

    def forget(self, vault: dict[str, Any]) -> None:
        """Drop a deleted vault's certificates."""
        self.stored.forget(vault["name"])

    def _admit(self, request: Request, permission: str) -> tuple[dict[str, Any], dict[str, Any]]:
        vault = self.vaults.admit(request, "certificates", permission)
        return vault, self._of(vault)

    def _find(self, certificates: dict[str, Any], name: str) -> dict[str, Any]:
        found = certificates.get(name.lower())
        if found is None or found.get("deleted") or not found["versions"]:
            raise arm_errors.certificate_not_found(f"A certificate with (name/id) {name} was not found in this key vault. If "
                                                   "you recently deleted this certificate you may be able to recover it using "
                                                   "the correct recovery command.")
        return found

    def _uri(self, vault: dict[str, Any]) -> str:
        return self.arm.ctx.vault_uri(vault["name"])

    # -- shapes ----------------------------------------------------------------------------------

    def _policy(self, given: Any, stamp: int, existing: dict[str, Any] | None = None, imported: bool = False) -> dict[str, Any]:
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

    def _bundle(self, vault: dict[str, Any], certificate: dict[str, Any], version: dict[str, Any],
                with_policy: bool = True) -> dict[str, Any]:
        uri, name = self._uri(vault), certificate["name"]
        body: dict[str, Any] = {
            "id": f"{uri}certificates/{name}/{version['version']}",
            "kid": f"{uri}keys/{name}/{version['version']}",
            "sid": f"{uri}secrets/{name}/{version['version']}",
            "x5t": version["x5t"],
            "cer": version["cer"],
            "attributes": self._attributes(vault, version),
            "tags": version.get("tags") or {},
        }
        if with_policy:
            body["policy"] = self._shown_policy(vault, certificate)
        return body

    def _attributes(self, vault: dict[str, Any], version: dict[str, Any]) -> dict[str, Any]:
        return {"enabled": version["enabled"], "nbf": version["nbf"], "exp": version["exp"], "created": version["created"],
                "updated": version["updated"],
                "recoveryLevel": "Recoverable+Purgeable" if self.vaults.soft_delete(vault) else "Purgeable"}

    def _item(self, vault: dict[str, Any], certificate: dict[str, Any], version: dict[str, Any],
              with_version: bool) -> dict[str, Any]:
        uri = f"{self._uri(vault)}certificates/{certificate['name']}" + (f"/{version['version']}" if with_version else "")
        return {"id": uri, "x5t": version["x5t"], "attributes": self._attributes(vault, version),
                "tags": version.get("tags") or {}}

    def _shown_policy(self, vault: dict[str, Any], certificate: dict[str, Any]) -> dict[str, Any]:
        return {"id": f"{self._uri(vault)}certificates/{certificate['name']}/policy", **certificate["policy"]}

    def _operation(self, vault: dict[str, Any], certificate: dict[str, Any]) -> dict[str, Any]:
        operation = certificate["operation"]
        uri = f"{self._uri(vault)}certificates/{certificate['name']}"
        body = {"id": f"{uri}/pending", "issuer": {"name": certificate["policy"]["issuer"]["name"]},
                "csr": operation["csr"], "cancellation_requested": False, "status": operation["status"],
                "request_id": operation["request_id"]}
        if operation["status"] == "inProgress":
            body["status_details"] = _IN_PROGRESS
        else:
            body["target"] = uri
        return body

    # -- issuing ---------------------------------------------------------------------------------

    def _issue(self, policy: dict[str, Any], key: rsa.RSAPrivateKey) -> x509.Certificate:
        """A self-signed certificate for ``key`` by ``policy``: valid from ten minutes ago (as Key Vault dates them)."""
        props = policy["x509_props"]
        subject = _subject(props["subject"]) if props.get("subject") else x509.Name([])
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

    def _store_version(self, vault: dict[str, Any], certificate: dict[str, Any], cert: x509.Certificate,
                       key: rsa.RSAPrivateKey | None, enabled: bool, tags: dict[str, Any]) -> dict[str, Any]:
        """A new current version of ``certificate``, and of its managed secret (same name and version)."""
        der = cert.public_bytes(serialization.Encoding.DER)
        stamp = int(time.time())
        version: dict[str, Any] = {"version": uuid.uuid4().hex, "cer": base64.b64encode(der).decode(), "x5t": _b64url(hashlib.sha1(der).digest()),
                   "nbf": int(cert.not_valid_before_utc.timestamp()), "exp": int(cert.not_valid_after_utc.timestamp()),
                   "created": stamp, "updated": stamp, "enabled": enabled, "tags": tags}
        content_type = certificate["policy"]["secret_props"]["contentType"]
        exportable = key if certificate["policy"]["key_props"]["exportable"] else None  # else the secret holds no key
        self.vaults.add_version(vault, certificate["name"], _secret_value(cert, exportable, content_type), content_type,
                                tags, enabled, version_id=version["version"],
                                key_id=f"{self._uri(vault)}keys/{certificate['name']}/{version['version']}")
        certificate["versions"].append(version)
        return version

    def issue_pending(self, vault: dict[str, Any]) -> None:
        """Issue ``vault``'s self-signed requests: each is issued by the vault's next request after the one that made
        it (a real vault takes a moment too: a client sees ``inProgress`` first, then ``completed``)."""
        for certificate in self._of(vault).values():
            operation = certificate.get("operation") or {}
            if operation.get("status") == "inProgress":
                key = serialization.load_pem_private_key(operation.pop("key").encode(), None)
                assert isinstance(key, rsa.RSAPrivateKey)
                self._store_version(vault, certificate, self._issue(certificate["policy"], key), key,
                                    operation.pop("enabled"), operation.pop("tags"))
                operation["status"] = "completed"
                self.arm.save()

    # -- handlers --------------------------------------------------------------------------------

    def create(self, request: Request, name: str) -> Response:
        vault, certificates = self._admit(request, "create")
        if not _NAME.match(name):
            raise arm_errors.vault_bad_parameter(f"The certificate name '{name}' is invalid: use 1-127 letters, digits and dashes.")
        body = without_nulls(request.json() or {})
        existing = certificates.get(name.lower())
        if existing is not None and existing.get("deleted"):
            raise arm_errors.certificate_deleted_but_recoverable(name)
        policy = self._policy(body.get("policy", existing["policy"] if existing else None), int(time.time()))
        key = rsa.generate_private_key(public_exponent=65537, key_size=policy["key_props"]["key_size"])
        subject = _subject(policy["x509_props"]["subject"]) if policy["x509_props"].get("subject") else x509.Name([])
        csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
        certificate = existing or {"name": name, "versions": []}
        certificate["policy"] = policy
        certificate["operation"] = {
            "status": "inProgress", "request_id": uuid.uuid4().hex,
            "csr": base64.b64encode(csr.public_bytes(serialization.Encoding.DER)).decode(),
            "key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode(),
            "enabled": (body.get("attributes") or {}).get("enabled", True), "tags": body.get("tags") or {}}
        certificates[name.lower()] = certificate
        self.arm.save()
        operation = self._operation(vault, certificate)
        location = f"{operation['id']}?api-version={request.api_version}&request_id={operation['request_id']}"
        return Response(202, operation, headers={"Location": location, "Retry-After": "10"})

    def import_certificate(self, request: Request, name: str) -> Response:
        vault, certificates = self._admit(request, "import")
        if not _NAME.match(name):
            raise arm_errors.vault_bad_parameter(f"The certificate name '{name}' is invalid: use 1-127 letters, digits and dashes.")
        body = _import_body(request.json())
        existing = certificates.get(name.lower())
        if existing is not None and existing.get("deleted"):
            raise arm_errors.certificate_deleted_but_recoverable(name)
        given = body.get("policy") or {}
        content_type = (given.get("secret_props") or {}).get("contentType", PKCS12)
        key, cert = _load(body["value"], body.get("pwd"), content_type)
        policy = self._policy(_policy_of(cert, key, given), int(time.time()), existing["policy"] if existing else None,
                              imported=True)
        certificate = existing or {"name": name, "versions": []}
        certificate["policy"] = policy
        certificates[name.lower()] = certificate
        version = self._store_version(vault, certificate, cert, key, (body.get("attributes") or {}).get("enabled", True),
                                      body.get("tags") or {})
        self.arm.save()
        return Response(200, self._bundle(vault, certificate, version))

    def certificate(self, request: Request, name: str, version: str | None = None) -> Response:
        vault, certificates = self._admit(request, "update" if request.method == "PATCH" else "get")
        certificate = self._find(certificates, name)
        chosen = certificate["versions"][-1] if not version else next(
            (v for v in certificate["versions"] if v["version"] == version), None)
        if chosen is None:
            raise arm_errors.certificate_not_found(f"A certificate with (name/id) {name}/{version} was not found in this key vault.")
        if request.method == "PATCH":
            body = without_nulls(request.json() or {})
            if "enabled" in (body.get("attributes") or {}):
                chosen["enabled"] = bool(body["attributes"]["enabled"])
                self._secret_version(vault, certificate, chosen)["enabled"] = chosen["enabled"]
            if isinstance(body.get("tags"), dict):
                chosen["tags"] = body["tags"]
            if body.get("policy"):
                certificate["policy"] = self._policy(body["policy"], int(time.time()), certificate["policy"])
            chosen["updated"] = int(time.time())
            self.arm.save()
        return Response(200, self._bundle(vault, certificate, chosen))

    def _secret_version(self, vault: dict[str, Any], certificate: dict[str, Any], version: dict[str, Any]) -> dict[str, Any]:
        secret = self.vaults.secrets_of(vault)[certificate["name"].lower()]
        found: dict[str, Any] = next(v for v in secret["versions"] if v["version"] == version["version"])
        return found

    def list_certificates(self, request: Request) -> Response:
        vault, certificates = self._admit(request, "list")
        items = [self._item(vault, c, c["versions"][-1], with_version=False)
                 for _, c in sorted(certificates.items()) if c["versions"] and not c.get("deleted")]
        return Response(200, {"value": items, "nextLink": None})

    def list_versions(self, request: Request, name: str) -> Response:
        vault, certificates = self._admit(request, "list")
        certificate = self._find(certificates, name)
        return Response(200, {"value": [self._item(vault, certificate, v, with_version=True) for v in certificate["versions"]],
                              "nextLink": None})

    def policy(self, request: Request, name: str) -> Response:
        vault, certificates = self._admit(request, "update" if request.method == "PATCH" else "get")
        certificate = self._find(certificates, name)
        if request.method == "PATCH":
            certificate["policy"] = self._policy(request.json(), int(time.time()), certificate["policy"])
            self.arm.save()
        return Response(200, self._shown_policy(vault, certificate))

    def pending(self, request: Request, name: str) -> Response:
        vault, certificates = self._admit(request, "delete" if request.method == "DELETE" else "get")
        certificate = certificates.get(name.lower())
        if certificate is None or not certificate.get("operation") or certificate.get("deleted"):
            raise arm_errors.certificate_operation_not_found(name)
        body = self._operation(vault, certificate)
        if request.method == "DELETE":
            certificate.pop("operation")
            self.arm.save()
        return Response(200, body)

    def delete(self, request: Request, name: str) -> Response:
        vault, certificates = self._admit(request, "delete")
        certificate = self._find(certificates, name)
        body = self._bundle(vault, certificate, certificate["versions"][-1])
        secrets = self.vaults.secrets_of(vault)
        if self.vaults.soft_delete(vault):
            certificate["deleted"] = int(time.time())
            secrets[name.lower()]["deleted"] = certificate["deleted"]
            body.update(self.vaults.deleted_fields(vault, "certificates", certificate))
        else:
            del certificates[name.lower()]
            secrets.pop(name.lower(), None)
        self.arm.save()
        return Response(200, body)

    def deleted(self, request: Request, name: str) -> Response:
        vault, certificates = self._admit(request, "purge" if request.method == "DELETE" else "get")
        certificate = certificates.get(name.lower())
        if not self.vaults.soft_delete(vault) or certificate is None or not certificate.get("deleted"):
            raise arm_errors.certificate_not_found(f"Deleted Certificate not found: {name}")
        if request.method == "DELETE":
            del certificates[name.lower()]
            self.vaults.secrets_of(vault).pop(name.lower(), None)
            self.arm.save()
            return Response(204)
        return Response(200, {**self._bundle(vault, certificate, certificate["versions"][-1]),
                              **self.vaults.deleted_fields(vault, "certificates", certificate)})


def _utf8_der(text: str) -> bytes:
    """A UPN's value as an OtherName holds it: a DER UTF8String."""
    data = text.encode()
    if len(data) >= 128:
        raise arm_errors.vault_bad_parameter("A user principal name in the subject alternative names is too long.")
    return bytes([0x0C, len(data)]) + data


def _secret_value(cert: x509.Certificate, key: rsa.RSAPrivateKey | None, content_type: str) -> str:
    """The managed secret's value: a PFX without a password, base64 (PKCS#12), or the key and certificate in PEM."""
    if content_type == PEM:
        key_pem = b"" if key is None else key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                            serialization.NoEncryption())
        return (key_pem + cert.public_bytes(serialization.Encoding.PEM)).decode()
    pfx = pkcs12.serialize_key_and_certificates(None, key, cert, None, serialization.NoEncryption())
    return base64.b64encode(pfx).decode()


def _import_body(body: Any) -> dict[str, Any]:
    """An import request's body, its members of the types CertificateImportParameters gives them (2016-10-01
    specification: value and pwd strings; policy, its key_props, secret_props, x509_props and issuer, attributes
    and tags objects); a member of another type is a 400 BadParameter, as Key Vault answers, never a 500."""
    if not isinstance(body, dict):
        raise arm_errors.vault_bad_parameter("The request body must be a JSON object (CertificateImportParameters).")
    body = without_nulls(body)
    if not isinstance(body.get("value"), str):
        raise arm_errors.vault_bad_parameter("Property value is required.")
    if not isinstance(body.get("pwd", ""), str):
        raise arm_errors.vault_bad_parameter("Property pwd must be a string.")
    for member in ("policy", "attributes", "tags"):
        if not isinstance(body.get(member, {}), dict):
            raise arm_errors.vault_bad_parameter(f"Property {member} must be an object.")
    for member in ("key_props", "secret_props", "x509_props", "issuer"):
        if not isinstance(body.get("policy", {}).get(member, {}), dict):
            raise arm_errors.vault_bad_parameter(f"Property policy.{member} must be an object.")
    return body


def _load(value: str, password: str | None, content_type: str) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
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


def _policy_of(cert: x509.Certificate, key: rsa.RSAPrivateKey, given: dict[str, Any]) -> dict[str, Any]:
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
