"""Microsoft.KeyVault: vaults and their access policies (management plane), and the secrets data plane
on its own listener, with Key Vault's challenge-based sign-in and its permission checks (the certificates
data plane is in :mod:`keyvault_certificates`)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from azs_emulator import arm_errors
from azs_emulator.api_tables import keyvault_data_versions
from azs_emulator.arm_core import Arm
from azs_emulator.protocol import ArmError, Request, Response
from azs_emulator.resource_types import ResourceType, TypeDeclarations
from azs_emulator.routing import Route, route
from azs_emulator.services.keyvault_certificates import KeyVaultCertificates, vault_route
from azs_emulator.state import PerOwnerStore

VAULTS = "Microsoft.KeyVault/vaults"
SECRETS = f"{VAULTS}/secrets"
_VAULT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
_SECRET_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
_POLICY_KINDS = ("add", "replace", "remove")
VaultAction = Callable[[Arm, Request, dict[str, Any]], Response]


class KeyVaultService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self.stored_secrets = PerOwnerStore(arm.data["vault_secrets"])  # this service owns the section
        self.certificates = KeyVaultCertificates(self)

    def resource_types(self) -> TypeDeclarations:
        actions: dict[str, VaultAction] = {f"put accesspolicies/{kind}": self.update_access_policy for kind in _POLICY_KINDS}
        return TypeDeclarations(types={
            VAULTS: ResourceType(shape=self._shape_vault, after_delete=self._forget_secrets, render=_render_vault,
                                 actions=actions, read_only=("provisioningState", "vaultUri")),
            SECRETS: ResourceType(shape=self._shape_secret, read_only=("provisioningState", "secretUri", "secretUriWithVersion")),
        })

    def routes(self) -> list[Route]:
        return [
            route("POST", r"/subscriptions/([^/]+)/providers/microsoft\.keyvault/checknameavailability", self.check_name,
                  api=("Microsoft.KeyVault", "checkNameAvailability")),
            vault_route("GET", r"/secrets", self.list_secrets),
            vault_route("GET", r"/secrets/([^/]+)/versions", self.list_versions),
            vault_route("PUT", r"/secrets/([^/]+)", self.set_secret),
            vault_route("DELETE", r"/secrets/([^/]+)", self.delete_secret),
            vault_route("GET", r"/secrets/([^/]+)(?:/([^/]*))?", self.get_secret),
            vault_route("GET|DELETE", r"/deletedsecrets/([^/]+)", self.deleted_secret),
            *self.certificates.routes(),
        ]

    # -- management plane ------------------------------------------------------------------------

    def _shape_vault(self, arm: Arm, vault: dict[str, Any], existing: dict[str, Any] | None) -> None:
        name, props = vault["name"], vault["properties"]
        if not _VAULT_NAME.match(name) or "--" in name:
            raise arm_errors.vault_name_invalid(name)
        if existing is None and self._vault(name, missing_ok=True) is not None:
            raise arm_errors.conflict("VaultAlreadyExists", f"The vault name '{name}' is already in use.")
        if not props.get("tenantId"):
            raise arm_errors.vault_bad_request("The vault's properties need the tenantId of its directory.")
        sku = props.get("sku") or {}
        if str(sku.get("name", "")).lower() not in ("standard", "premium"):
            raise arm_errors.vault_bad_request("The vault's sku name must be standard or premium.")
        props.setdefault("accessPolicies", [])
        for flag in ("enabledForDeployment", "enabledForDiskEncryption", "enabledForTemplateDeployment"):
            props.setdefault(flag, False)
        if arm.ctx.release == "azure":
            props.setdefault("enableSoftDelete", True)  # global Azure's default since 2020; a Stack has no soft delete
        else:
            props.pop("enableSoftDelete", None)
        props["vaultUri"] = arm.ctx.vault_uri(name)

    def _shape_secret(self, arm: Arm, secret: dict[str, Any], existing: dict[str, Any] | None) -> None:
        """A secret put through Resource Manager (``vaults/secrets``, Key Vault's management spec): stored as a new version
        in the vault's data plane; its value is write-only, never kept in the resource nor shown; ``secretUri`` and
        ``secretUriWithVersion`` name it on the data plane."""
        props, name = secret["properties"], secret["name"]
        vault = arm.find(secret["id"].rsplit("/secrets/", 1)[0])
        assert vault is not None  # the child route found the parent before
        if not _SECRET_NAME.match(name):
            raise arm_errors.invalid_parameter(f"The secret name '{name}' is invalid: use 1-127 letters, digits and dashes.")
        value = props.pop("value", None)
        if value is None and existing is None:
            raise arm_errors.invalid_request_content("properties.value is required to create a secret.")
        attributes = props.setdefault("attributes", {})
        if value is not None:
            version = self.add_version(vault, name, str(value), props.get("contentType"), secret.get("tags") or {},
                                       attributes.get("enabled", True))
            uri = f"{arm.ctx.vault_uri(vault['name'])}secrets/{name}"
            props.update(secretUri=uri, secretUriWithVersion=f"{uri}/{version['version']}")
            attributes.update(enabled=version["enabled"], created=version["created"], updated=version["updated"])

    def add_version(self, vault: dict[str, Any], name: str, value: str, content_type: str | None, tags: dict[str, Any],
                    enabled: bool, version_id: str | None = None, key_id: str | None = None) -> dict[str, Any]:
        """A new current version of the secret ``name`` in ``vault`` (data plane and Resource Manager alike); a
        certificate's secret carries its version id and ``key_id`` (the certificate's key), and is managed."""
        secrets = self.secrets_of(vault)
        existing = secrets.get(name.lower())
        if existing is not None and key_id is None and _managed(existing):
            raise _not_on_a_managed_secret("set")
        if existing is not None and existing.get("deleted"):
            raise arm_errors.secret_deleted_but_recoverable(name)
        stamp = int(time.time())
        version = {"version": version_id or uuid.uuid4().hex, "value": value, "contentType": content_type, "tags": tags,
                   "created": stamp, "updated": stamp, "enabled": enabled}
        if key_id is not None:
            version["kid"] = key_id
        secrets.setdefault(name.lower(), {"name": name, "versions": []})["versions"].append(version)
        self.arm.save()
        return version

    def secrets_of(self, vault: dict[str, Any]) -> dict[str, Any]:
        """The secrets of ``vault`` by lower-cased name: each its name, versions and (soft-deleted) time of deletion."""
        return self.stored_secrets.of(vault["name"])

    def _forget_secrets(self, arm: Arm, vault: dict[str, Any]) -> None:
        self.stored_secrets.forget(vault["name"])
        self.certificates.forget(vault)

    def update_access_policy(self, arm: Arm, request: Request, vault: dict[str, Any]) -> Response:
        kind = request.path.rstrip("/").rsplit("/", 1)[-1].lower()
        body = request.json()
        given = (body.get("properties") or {}).get("accessPolicies") if isinstance(body, dict) else None
        if not isinstance(given, list):
            raise arm_errors.invalid_request_content("properties.accessPolicies must be a list.")
        policies = vault["properties"].setdefault("accessPolicies", [])
        key = lambda p: (str(p.get("tenantId", "")).lower(), str(p.get("objectId", "")).lower())  # noqa: E731
        if kind == "replace":
            others = [p for p in policies if key(p) not in {key(g) for g in given}]
            policies[:] = others + given
        for policy in given if kind != "replace" else []:
            current = next((p for p in policies if key(p) == key(policy)), None)
            if kind == "add" and current is None:
                policies.append(policy)
            elif current is not None:
                for plane, wanted in (policy.get("permissions") or {}).items():
                    have = current.setdefault("permissions", {}).setdefault(plane, [])
                    if kind == "add":
                        have.extend(p for p in wanted if p not in have)
                    else:
                        current["permissions"][plane] = [p for p in have if p not in wanted]
        arm.save()
        return Response(200, {"id": f"{vault['id']}/accessPolicies/{kind}", "name": kind,
                              "type": "Microsoft.KeyVault/vaults/accessPolicies", "properties": {"accessPolicies": policies}})

    def check_name(self, request: Request, sub: str) -> Response:
        body = request.json()
        name = str(body.get("name", "")) if isinstance(body, dict) else ""
        if not _VAULT_NAME.match(name):
            return Response(200, {"nameAvailable": False, "reason": "AccountNameInvalid",
                                  "message": f"Vault name '{name}' is invalid."})
        if self._vault(name, missing_ok=True) is not None:
            return Response(200, {"nameAvailable": False, "reason": "AlreadyExists",
                                  "message": f"The vault name '{name}' is already in use."})
        return Response(200, {"nameAvailable": True})

    def _vault(self, name: str, missing_ok: bool = False) -> dict[str, Any] | None:
        for resource in self.arm.resources_of_type(VAULTS):
            if resource["name"].lower() == name.lower():
                return resource
        if missing_ok:
            return None
        raise arm_errors.vault_not_found(name)

    # -- data plane ------------------------------------------------------------------------------

    def _admit(self, request: Request, permission: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The vault and its secrets, after the data-plane api-version and the caller's secrets permission."""
        vault = self.admit(request, "secrets", permission)
        return vault, self.secrets_of(vault)

    def admit(self, request: Request, plane: str, permission: str) -> dict[str, Any]:
        """The vault a data-plane request addresses, after its api-version and the caller's ``plane`` permission
        (an access policy's ``secrets``, ``certificates``, ...)."""
        versions = keyvault_data_versions(self.arm.ctx.release)
        if request.api_version not in versions:
            raise arm_errors.vault_bad_parameter(f"The specified version ({request.api_version}) is not recognized. "
                                                 f"Consider using the latest supported version ({versions[-1]}).")
        vault = self._vault(request.vault)
        assert vault is not None
        caller = self.arm.ctx.service_principal_object_id
        allowed = {p.lower() for policy in vault["properties"].get("accessPolicies", [])
                   if str(policy.get("objectId", "")).lower() == caller.lower()
                   for p in (policy.get("permissions") or {}).get(plane, [])}
        if permission not in allowed and "all" not in allowed:
            raise arm_errors.vault_forbidden(f"The user, group or application 'appid={self.arm.client_id};oid={caller}' does not "
                             f"have {plane} {permission} permission on key vault '{vault['name']};location={vault['location']}'. "
                             "Add an access policy that grants it.")
        self.certificates.issue_pending(vault)
        return vault

    def soft_delete(self, vault: dict[str, Any]) -> bool:
        """Whether ``vault`` keeps what is deleted until purged (global Azure's vaults; a Stack has no soft delete)."""
        return bool(vault["properties"].get("enableSoftDelete"))

    def _bundle(self, vault: dict[str, Any], name: str, version: dict[str, Any], with_value: bool = True,
                with_version: bool = True) -> dict[str, Any]:
        uri = self.arm.ctx.vault_uri(vault["name"])
        body: dict[str, Any] = {
            "id": f"{uri}secrets/{name}" + (f"/{version['version']}" if with_version else ""),
            "attributes": {"enabled": version.get("enabled", True), "created": version["created"], "updated": version["updated"],
                           "recoveryLevel": "Recoverable+Purgeable" if self.soft_delete(vault) else "Purgeable"},
            "tags": version.get("tags") or {},
        }
        if version.get("contentType"):
            body["contentType"] = version["contentType"]
        if version.get("kid"):  # a certificate's secret: Key Vault manages it with the certificate
            body.update(kid=version["kid"], managed=True)
        if with_value:
            body["value"] = version["value"]
        return body

    def _secret(self, secrets: dict[str, Any], name: str, vault: dict[str, Any]) -> dict[str, Any]:
        secret = secrets.get(name.lower())
        if secret is None or secret.get("deleted"):
            raise arm_errors.secret_not_found(f"A secret with (name/id) {name} was not found in this key vault. If you recently deleted "
                             "this secret you may be able to recover it using the correct recovery command.")
        return secret

    def set_secret(self, request: Request, name: str) -> Response:
        vault, secrets = self._admit(request, "set")
        body = request.json()
        if not _SECRET_NAME.match(name):
            raise arm_errors.vault_bad_parameter(f"The secret name '{name}' is invalid: use 1-127 letters, digits and dashes.")
        if not isinstance(body, dict) or not isinstance(body.get("value"), str):
            raise arm_errors.vault_bad_parameter("Property value is required.")
        version = self.add_version(vault, name, body["value"], body.get("contentType"), body.get("tags") or {},
                                    (body.get("attributes") or {}).get("enabled", True))
        return Response(200, self._bundle(vault, secrets[name.lower()]["name"], version))

    def get_secret(self, request: Request, name: str, version: str | None = None) -> Response:
        vault, secrets = self._admit(request, "get")
        secret = self._secret(secrets, name, vault)
        chosen = secret["versions"][-1] if not version else next((v for v in secret["versions"] if v["version"] == version), None)
        if chosen is None:
            raise arm_errors.secret_not_found(f"A secret with (name/id) {name}/{version} was not found in this key vault.")
        return Response(200, self._bundle(vault, secret["name"], chosen))

    def list_secrets(self, request: Request) -> Response:
        vault, secrets = self._admit(request, "list")
        items = [self._bundle(vault, s["name"], s["versions"][-1], with_value=False, with_version=False)
                 for _, s in sorted(secrets.items()) if not s.get("deleted")]
        return Response(200, {"value": items, "nextLink": None})

    def list_versions(self, request: Request, name: str) -> Response:
        vault, secrets = self._admit(request, "list")
        secret = self._secret(secrets, name, vault)
        return Response(200, {"value": [self._bundle(vault, secret["name"], v, with_value=False) for v in secret["versions"]],
                              "nextLink": None})

    def delete_secret(self, request: Request, name: str) -> Response:
        vault, secrets = self._admit(request, "delete")
        secret = self._secret(secrets, name, vault)
        if _managed(secret):
            raise _not_on_a_managed_secret("delete")
        body = self._bundle(vault, secret["name"], secret["versions"][-1])
        if self.soft_delete(vault):
            secret["deleted"] = int(time.time())
            body.update(self.deleted_fields(vault, "secrets", secret))
        else:
            del secrets[name.lower()]
        self.arm.save()
        return Response(200, body)

    def deleted_fields(self, vault: dict[str, Any], collection: str, item: dict[str, Any]) -> dict[str, Any]:
        """What a soft-deleted secret or certificate shows (``collection``: ``secrets``, ``certificates``): where to
        recover it, when it went, when it is purged (90 days on)."""
        return {"recoveryId": f"{self.arm.ctx.vault_uri(vault['name'])}deleted{collection}/{item['name']}",
                "deletedDate": item["deleted"], "scheduledPurgeDate": item["deleted"] + 90 * 86400}

    def deleted_secret(self, request: Request, name: str) -> Response:
        vault, secrets = self._admit(request, "purge" if request.method == "DELETE" else "get")
        secret = secrets.get(name.lower())
        if not self.soft_delete(vault) or secret is None or not secret.get("deleted"):
            raise arm_errors.secret_not_found(f"Deleted Secret not found: {name}")
        if request.method == "DELETE":
            del secrets[name.lower()]
            self.arm.save()
            return Response(204)
        return Response(200, {**self._bundle(vault, secret["name"], secret["versions"][-1]), **self.deleted_fields(vault, "secrets", secret)})


def _render_vault(arm: Arm, vault: dict[str, Any], request: Request) -> dict[str, Any]:
    """The vault URI names the Key Vault listener of this run (its port may change across restarts)."""
    shown = arm.public(vault)
    return {**shown, "properties": {**shown["properties"], "vaultUri": arm.ctx.vault_uri(vault["name"])}}


def _managed(secret: dict[str, Any]) -> bool:
    """Whether a certificate holds ``secret`` (its versions name the certificate's key): Key Vault changes it only
    through the certificate."""
    return any(version.get("kid") for version in secret["versions"])


def _not_on_a_managed_secret(operation: str) -> ArmError:
    return arm_errors.vault_forbidden(f"Operation {operation!r} is not allowed on a managed secret: change or delete the "
                                      "certificate that holds it.")


def secret_of_reference(arm: Arm, reference: Any) -> str:
    """The value a template parameter's Key Vault reference names (``{"keyVault": {"id"}, "secretName",
    "secretVersion"?}``), as Resource Manager resolves it: from a vault enabled for template deployment, the secret's
    current (or named) version. A ValueError says why it cannot be resolved."""
    if not isinstance(reference, dict) or not isinstance(reference.get("keyVault"), dict) or not reference.get("secretName"):
        raise ValueError("a Key Vault reference needs keyVault.id and secretName")
    vault_id, name = str(reference["keyVault"].get("id", "")), str(reference["secretName"])
    vault = arm.find(vault_id)
    if vault is None or vault["type"].lower() != VAULTS.lower():
        raise ValueError(f"the key vault '{vault_id}' was not found")
    if not vault["properties"].get("enabledForTemplateDeployment"):
        raise ValueError(f"the key vault '{vault['name']}' is not enabled for template deployment "
                         "(set properties.enabledForTemplateDeployment to true)")
    secret = (arm.data["vault_secrets"].get(vault["name"].lower()) or {}).get(name.lower())
    wanted = reference.get("secretVersion")
    versions = [v for v in (secret or {}).get("versions", []) if not wanted or v["version"] == wanted]
    if secret is None or secret.get("deleted") or not versions or versions[-1].get("enabled") is False:
        raise ValueError(f"the secret '{name}'{f' version {wanted}' if wanted else ''} was not found in the key vault "
                         f"'{vault['name']}'")
    return str(versions[-1]["value"])
