"""Microsoft.Storage: storage accounts, their keys (base64 of 64 random bytes, as a Stack gives them),
key regeneration and name checks."""

from __future__ import annotations

import base64
import re
import secrets
from typing import Any

from azs_emulator import arm_errors
from azs_emulator.arm_core import Arm, now
from azs_emulator.protocol import Request, Response
from azs_emulator.resource_types import ResourceType, TypeDeclarations
from azs_emulator.routing import Route, route

ACCOUNTS = "Microsoft.Storage/storageAccounts"
_NAME = re.compile(r"^[a-z0-9]{3,24}$")
_KEY_NAMES = ("key1", "key2")


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(64)).decode()


def account_keys(arm: Arm, account: dict[str, Any]) -> list[str]:
    """An account's two current keys (made on first use), as listKeys shows them and the data plane checks them."""
    return arm.storage_keys(account["id"], lambda: [new_key() for _ in _KEY_NAMES])


def find_account(arm: Arm, name: str) -> dict[str, Any] | None:
    """The storage account of that name (names are global)."""
    return next((r for r in arm.resources_of_type(ACCOUNTS) if r["name"] == name), None)


def keys_body(keys: list[str], api_version: str) -> dict[str, Any]:
    """A listKeys (or regenerateKey) answer: before 2016-01-01 ``{"key1", "key2"}`` (spec: 2015-06-15's
    StorageAccountKeys), from it on ``{"keys": [{keyName, value, permissions}]}``."""
    if api_version < "2016-01-01":
        return dict(zip(_KEY_NAMES, keys))
    return {"keys": [{"keyName": n, "value": v, "permissions": "FULL"} for n, v in zip(_KEY_NAMES, keys)]}


class StorageService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm

    def resource_types(self) -> TypeDeclarations:
        return TypeDeclarations({ACCOUNTS: ResourceType(
            shape=_shape_account,
            create_status=202,  # the account is made in the background; the poll's answer is the account
            read_only=("creationTime", "primaryEndpoints", "primaryLocation", "statusOfPrimary", "provisioningState"),
            actions={"post listkeys": self.list_keys, "post regeneratekey": self.regenerate_key},
        )})

    def routes(self) -> list[Route]:
        return [route("POST", r"/subscriptions/([^/]+)/providers/microsoft\.storage/checknameavailability",
                      self.check_name, api=("Microsoft.Storage", "checkNameAvailability"))]

    def _keys(self, account: dict[str, Any]) -> list[str]:
        return account_keys(self.arm, account)

    def list_keys(self, arm: Arm, request: Request, account: dict[str, Any]) -> Response:
        return Response(200, keys_body(self._keys(account), request.api_version or ""))

    def regenerate_key(self, arm: Arm, request: Request, account: dict[str, Any]) -> Response:
        body = request.json()
        name = body.get("keyName") if isinstance(body, dict) else None
        if name not in _KEY_NAMES:
            raise arm_errors.invalid_parameter(f"The key name '{name}' is invalid; use key1 or key2.")
        keys = self._keys(account)
        keys[_KEY_NAMES.index(name)] = new_key()
        self.arm.save()
        return Response(200, keys_body(keys, request.api_version or ""))

    def check_name(self, request: Request, sub: str) -> Response:
        body = request.json()
        name = body.get("name", "") if isinstance(body, dict) else ""
        if not _NAME.match(name):
            return Response(200, {
                "nameAvailable": False,
                "reason": "AccountNameInvalid",
                "message": f"{name} is not a valid storage account name. Storage account name must be between 3 and 24 "
                           "characters in length and use numbers and lower-case letters only.",
            })
        taken = find_account(self.arm, name) is not None
        if taken:
            return Response(200, {"nameAvailable": False, "reason": "AlreadyExists",
                                  "message": f"The storage account named {name} is already taken."})
        return Response(200, {"nameAvailable": True})


def _shape_account(arm: Arm, account: dict[str, Any], existing: dict[str, Any] | None) -> None:
    name = account["name"]
    if not _NAME.match(name):
        raise arm_errors.storage_account_name_invalid(name)
    if existing is None and any(r["name"] == name and r["id"] != account["id"] for r in arm.resources_of_type(ACCOUNTS)):
        raise arm_errors.conflict("StorageAccountAlreadyTaken", f"The storage account named {name} is already taken.")
    legacy_type = account["properties"].get("accountType")  # 2015-06-15 and older name the sku here
    account.setdefault("sku", {"name": legacy_type or "Standard_LRS"})
    account["sku"].setdefault("tier", "Premium" if str(account["sku"].get("name", "")).startswith("Premium") else "Standard")
    account["properties"]["accountType"] = account["sku"]["name"]
    account.setdefault("kind", "Storage")
    _spell_network_acls(account["properties"])
    account["properties"].setdefault("creationTime", now())
    account["properties"].update({
        "primaryLocation": account["location"],
        "statusOfPrimary": "available",
        "primaryEndpoints": {s: f"https://{name}.{s}.{arm.ctx.storage_suffix}/" for s in ("blob", "queue", "table")},
    })


# The storage spec's enums of networkAcls (az shows them as networkRuleSet), in the spec's spelling: a client may
# send any case ("deny"), the service answers "Deny".
_ACL_ENUMS = {"defaultAction": ("Allow", "Deny"), "bypass": ("None", "Logging", "Metrics", "AzureServices")}


def _spell_network_acls(props: dict[str, Any]) -> None:
    acls = props.get("networkAcls")
    if not isinstance(acls, dict):
        return
    action = str(acls.get("defaultAction", "Allow"))
    acls["defaultAction"] = next((m for m in _ACL_ENUMS["defaultAction"] if m.lower() == action.lower()), action)
    # bypass is a comma-separated set of flags
    flags = [f.strip() for f in str(acls.get("bypass", "AzureServices")).split(",") if f.strip()]
    acls["bypass"] = ", ".join(next((m for m in _ACL_ENUMS["bypass"] if m.lower() == f.lower()), f) for f in flags)
    acls.setdefault("virtualNetworkRules", [])
    acls.setdefault("ipRules", [])
    for rule in acls["ipRules"]:
        rule["action"] = "Allow"
