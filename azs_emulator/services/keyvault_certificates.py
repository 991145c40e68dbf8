"""Key Vault's certificates data plane as a Stack's vaults serve it (2016-10-01, the version both hybrid profiles
name): create with a self-signed issuer, import, get, list, versions, policy, update, the pending operation and
delete. Shapes follow the 2016-10-01 data-plane specification (CertificateBundle, CertificatePolicy,
CertificateOperation); a certificate is backed by a managed secret of the same name and version holding its PFX
(or PEM), as Key Vault keeps it. The X.509 work (policies, issuing, reading an import) is in :mod:`keyvault_x509`.

Not served: issuers other than ``Self`` (no issuer providers or ``Unknown``-issuer merge), contacts, the keys
data plane behind a certificate's ``kid``, backup and restore."""

from __future__ import annotations

import base64
import hashlib
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from azs_emulator import arm_errors
from azs_emulator.protocol import Request, Response, without_nulls
from azs_emulator.routing import KEYVAULT, VAULT_TOKEN, Handler, Route, route
from azs_emulator.services.keyvault_x509 import PKCS12, b64url, issue_self_signed, load_import, policy_of, secret_value, stored_policy, subject_name
from azs_emulator.state import PerOwnerStore

if TYPE_CHECKING:
    from azs_emulator.services.keyvault import KeyVaultService

_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
_IN_PROGRESS = ("Pending certificate created. Certificate request is in progress. This may take some time based on the "
                "issuer provider. Please check again later.")


def vault_route(methods: str, pattern: str, handler: Handler) -> Route:
    """A route on the vaults' own hosts, for a vault token."""
    return route(methods, pattern, handler, listener=KEYVAULT, auth=VAULT_TOKEN, subscription=False)


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

    def _store_version(self, vault: dict[str, Any], certificate: dict[str, Any], cert: x509.Certificate,
                       key: rsa.RSAPrivateKey | None, enabled: bool, tags: dict[str, Any]) -> dict[str, Any]:
        """A new current version of ``certificate``, and of its managed secret (same name and version)."""
        der = cert.public_bytes(serialization.Encoding.DER)
        stamp = int(time.time())
        version: dict[str, Any] = {"version": uuid.uuid4().hex, "cer": base64.b64encode(der).decode(), "x5t": b64url(hashlib.sha1(der).digest()),
                   "nbf": int(cert.not_valid_before_utc.timestamp()), "exp": int(cert.not_valid_after_utc.timestamp()),
                   "created": stamp, "updated": stamp, "enabled": enabled, "tags": tags}
        content_type = certificate["policy"]["secret_props"]["contentType"]
        exportable = key if certificate["policy"]["key_props"]["exportable"] else None  # else the secret holds no key
        self.vaults.add_version(vault, certificate["name"], secret_value(cert, exportable, content_type), content_type,
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
                self._store_version(vault, certificate, issue_self_signed(certificate["policy"], key), key,
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
        policy = stored_policy(body.get("policy", existing["policy"] if existing else None), int(time.time()))
        key = rsa.generate_private_key(public_exponent=65537, key_size=policy["key_props"]["key_size"])
        subject = subject_name(policy["x509_props"]["subject"]) if policy["x509_props"].get("subject") else x509.Name([])
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
        key, cert = load_import(body["value"], body.get("pwd"), content_type)
        policy = stored_policy(policy_of(cert, key, given), int(time.time()), existing["policy"] if existing else None,
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
                certificate["policy"] = stored_policy(body["policy"], int(time.time()), certificate["policy"])
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
            certificate["policy"] = stored_policy(request.json(), int(time.time()), certificate["policy"])
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
