"""A deployment's ``onErrorDeployment`` (Microsoft.Resources 2018-02-01 and later; Azure CLI's
``--rollback-on-error``): ``LastSuccessful`` names the group's latest deployment that succeeded, ``SpecificDeployment``
the one given; when the deployment fails, that one is deployed again, and the failed deployment shows how it went."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from azs_emulator import arm_errors
from azs_emulator.protocol import ArmError
from azs_emulator.state import DocumentStore

_KINDS = {"lastsuccessful": "LastSuccessful", "specificdeployment": "SpecificDeployment"}


def on_error_deployment(given: Any, deployments: DocumentStore, name: str, group: str) -> dict[str, Any] | None:
    """The ``onErrorDeployment`` a new deployment ``name`` shows, resolved against the group's ``deployments``."""
    if not given:
        return None
    kind = _KINDS.get(str(given.get("type", "")).lower()) if isinstance(given, dict) else None
    if kind is None:
        raise arm_errors.invalid_request_content("onErrorDeployment.type must be LastSuccessful or SpecificDeployment.")
    others = [d for d in deployments.values() if d["name"].lower() != name.lower()
              and d["properties"]["provisioningState"] == "Succeeded"]
    chosen: dict[str, Any] | None
    if kind == "LastSuccessful":
        if not others:
            raise ArmError(400, "DeploymentNotFound", f"No earlier deployment in resource group '{group}' succeeded, so "
                                                      "there is none to roll back to on error.")
        chosen = max(others, key=lambda d: d["properties"]["timestamp"])
    else:
        wanted = str(given.get("deploymentName") or "")
        chosen = next((d for d in others if d["name"].lower() == wanted.lower()), None)
        if chosen is None:
            raise ArmError(400, "DeploymentNotFound", f"The deployment '{wanted}' to roll back to on error is not a "
                                                      f"deployment of resource group '{group}' that succeeded.")
    return {"type": kind, "deploymentName": chosen["name"]}


def roll_back(failed: dict[str, Any], deployments: DocumentStore, run: Callable[[dict[str, Any]], None]) -> None:
    """Deploy ``failed``'s rollback target again (with ``run``, which Resource Manager does in Complete mode, whatever
    mode the target had: what only the failed deployment made goes) and record how that went."""
    on_error = failed["properties"].get("onErrorDeployment")
    target = deployments.get(str((on_error or {}).get("deploymentName", "")))
    if on_error is None or target is None:
        return
    target["properties"].pop("error", None)
    run(target)
    on_error["provisioningState"] = target["properties"]["provisioningState"]
