"""Deploying one quickstart template against a running emulator, as a team would: into a resource group of its own,
after what it extends (``first``) and what the team supplies (``--supply``: resources, staged files, values), through
azure-mgmt-resource at the release's profile; its outcome, the innermost error of a failure. The group goes after."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.catalog.profiles import STACK_RELEASES  # the catalog's release -> API profile
from tools.quickstarts.corpus import Secrets, Template, load, read_bounded
from tools.quickstarts.rules import DEPLOYED

DEPLOYMENT = "quickstart"


@dataclass
class Session:
    """One emulator's connection facts (its --info-file), the release, what the run made up, a deployment's time limit;
    the clients of one thread, made on first use (the credential signs in once)."""

    info: dict[str, Any]
    release: str
    made: Secrets
    timeout: float
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, cls: type) -> Any:
        """A management client of ``cls`` at the release's profile, signed in as the emulator's service principal:
        Resource Manager trusted by the Stack's root CA, sign-in by the public CAs (the stand-in for
        login.microsoftonline.com's)."""
        from azure.identity import ClientSecretCredential
        from azure.profiles import KnownProfiles

        if "credential" not in self._clients:
            login = self.info["identity_endpoint"].rstrip("/")
            adfs = self.info["identity_system"] == "adfs"
            tenant, authority = ("adfs", login[: -len("/adfs")]) if adfs else (self.info["tenant_id"], login)
            self._clients["credential"] = ClientSecretCredential(
                tenant, self.info["client_id"], self.info["client_secret"], authority=authority,
                connection_verify=self.info["public_ca_bundle"], disable_instance_discovery=True)
            self._clients["scope"] = f"{_audience(self.info)}/.default"
        if cls.__name__ not in self._clients:
            self._clients[cls.__name__] = cls(self._clients["credential"], self.info["subscription_id"],
                                              base_url=self.info["arm_endpoint"], credential_scopes=[self._clients["scope"]],
                                              connection_verify=self.info["ca_cert"],
                                              profile=getattr(KnownProfiles, f"v{STACK_RELEASES[self.release]}"))
        return self._clients[cls.__name__]

    @property
    def resources(self) -> Any:
        from azure.mgmt.resource import ResourceManagementClient

        return self.client(ResourceManagementClient)


def _audience(info: dict[str, Any]) -> str:
    import requests

    answer = requests.get(f"{info['arm_endpoint']}metadata/endpoints?api-version=2015-01-01", verify=info["ca_cert"], timeout=30)
    answer.raise_for_status()
    return str(answer.json()["authentication"]["audiences"][0]).rstrip("/")


# -- deploying --------------------------------------------------------------------------------------------------------

def group_name(folder: str) -> str:
    """A short lower-case group name of letters and digits: templates build storage account names and DNS labels from
    ``resourceGroup().name`` (at most 24 lower-case letters and digits), as a team names its groups for them."""
    return "qs" + hashlib.sha256(folder.encode()).hexdigest()[:8]


def _deepest_error(error: Any) -> dict[str, str]:
    """The innermost error of an ARM error object (a deployment's ``DeploymentFailed`` holds the operation's)."""
    while isinstance(error, dict) and error.get("details"):
        error = error["details"][0]
    if not isinstance(error, dict):
        return {"code": "", "message": str(error)}
    return {"code": str(error.get("code", "")), "message": str(error.get("message", "")), "target": str(error.get("target") or "")}


def _error_of(exc: Any) -> dict[str, Any]:
    """The ARM error object an SDK exception carries (its body's ``error``), else its status and message."""
    try:
        body = exc.response.json()
    except Exception:  # noqa: BLE001 - not JSON: the SDK's own message says it
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return dict(body["error"])
    return {"code": str(getattr(exc, "status_code", "")), "message": str(getattr(exc, "message", exc))}


def _supplied(session: Session, template: Template, group: str) -> None:
    """Make what the team supplies for ``template`` (its ``supply``) and give its parameters the team's values."""
    from tools.quickstarts.supplies import filled

    client, subscription, supply = session.resources, session.info["subscription_id"], template.supply
    body: dict[str, Any] = {"$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
                            "contentVersion": "1.0.0.0", "parameters": {"password": {"type": "securestring"}}}
    for where, resources in ([supply.elsewhere] if supply.elsewhere else []) + [(group, supply.resources)]:
        if resources:
            client.resource_groups.create_or_update(where, {"location": session.info["location"]})
            made_first = {"properties": {"template": {**body, "resources": filled(list(resources), where, subscription)},
                                         "parameters": {"password": {"value": session.made.password}}, "mode": "Incremental"}}
            client.deployments.begin_create_or_update(where, "supplied", made_first).result(timeout=session.timeout)
    if supply.staged is not None:
        _stage(session, group, filled(supply.staged[0], group, subscription), supply.staged[1], template.staged)
    template.parameters = {**template.parameters, **filled(supply.parameters, group, subscription, session.info["storage_suffix"])}


def _stage(session: Session, group: str, account: str, container: str, files: dict[str, bytes]) -> None:
    """Upload ``files`` into a container of public read access of ``account`` (in ``group``), as the team stages a
    template's artifacts; with the account's key, through azure-storage-blob at the catalog's storage service version."""
    from azure.mgmt.storage import StorageManagementClient
    from azure.storage.blob import BlobServiceClient

    from generator.catalog import STORAGE_DATA_API_VERSION

    storage = session.client(StorageManagementClient)
    key = storage.storage_accounts.list_keys(group, account).keys[0].value
    endpoint = storage.storage_accounts.get_properties(group, account).primary_endpoints.blob
    blobs = BlobServiceClient(endpoint, credential={"account_name": account, "account_key": key},
                              api_version=STORAGE_DATA_API_VERSION, connection_verify=session.info["ca_cert"])
    box = blobs.create_container(container, public_access="blob")
    for name, content in files.items():
        box.upload_blob(name, content, overwrite=True)


def deploy(session: Session, template: Template) -> dict[str, Any]:
    """Deploy one template into its own group (made new, deleted after); its outcome."""
    from azure.core.exceptions import AzureError, HttpResponseError

    client, made, location, timeout = session.resources, session.made, session.info["location"], session.timeout
    outcome: dict[str, Any] = {"folder": template.folder, "outcome": "failed", "seconds": 0.0, "changes": template.changes}
    if template.unreadable:
        return {**outcome, "code": "InvalidTemplate", "message": f"unreadable: {template.unreadable}"}
    group = (template.supply.group if template.supply is not None else "") or group_name(template.folder)
    started = time.monotonic()
    try:
        client.resource_groups.create_or_update(group, {"location": location})
        if template.supply is not None:
            outcome["supplied"] = template.supply.what
            _supplied(session, template, group)
        if template.first is not None:
            body = {"properties": {"template": template.first.template, "parameters": template.first.parameters, "mode": "Incremental"}}
            client.deployments.begin_create_or_update(group, "prerequisite", body).result(timeout=timeout)
        body = {"properties": {"template": template.template, "parameters": template.parameters, "mode": "Incremental"}}
        poller = client.deployments.begin_create_or_update(group, DEPLOYMENT, body)
        poller.result(timeout=timeout)
        if not poller.done():
            return {**outcome, "code": "Timeout", "message": f"not finished after {timeout:.0f} s"}
        state = client.deployments.get(group, DEPLOYMENT).properties
        if state.provisioning_state == "Succeeded":
            outcome["outcome"] = DEPLOYED
        else:
            outcome.update(_deepest_error(state.error.as_dict() if state.error else {}))
    except HttpResponseError as exc:
        error = _error_of(exc)
        try:  # a deployment that ran and failed holds its operation's error
            state = client.deployments.get(group, DEPLOYMENT).properties
            if state.error is not None:
                error = state.error.as_dict()
        except HttpResponseError:
            pass
        outcome.update(_deepest_error(error))
    except AzureError as exc:  # no answer at all (a connection the emulator dropped): one line, left unclassified
        outcome.update(code=type(exc).__name__, message=str(exc).splitlines()[0] if str(exc) else "")
    finally:
        outcome["seconds"] = round(time.monotonic() - started, 1)
        elsewhere = [template.supply.elsewhere[0]] if template.supply is not None and template.supply.elsewhere else []
        for made_group in [group, *elsewhere]:
            try:
                client.resource_groups.begin_delete(made_group).result(timeout=timeout)
            except Exception:  # noqa: BLE001 - clean-up only; the outcome is what was asked
                pass
    # the run's password never shown; the subscription's id the same in every run
    outcome["message"] = made.redact(outcome.get("message", "")).replace(session.info["subscription_id"], "{subscription}")
    return outcome


def with_supplies(corpus: Path, templates: list[Template], made: Secrets) -> None:
    """Give each template that needs what a team has its supply (and the corpus template a supply deploys first)."""
    from tools.quickstarts.supplies import SUPPLIES

    for template in templates:
        supply = SUPPLIES.get(template.folder)
        if supply is None or template.unreadable:
            continue
        template.supply = supply
        if supply.first is not None:
            folder, values = supply.first
            template.first = load(corpus, folder, made)
            template.first.parameters = {**template.first.parameters, **values}
        if supply.staged is not None:
            folder, prefix = supply.staged[2], supply.staged[3]
            template.staged = {f"{prefix}/{path.name}".lstrip("/"): read_bounded(path)
                               for path in sorted((corpus / folder).glob("*.json"))}
        template.changes = [*template.changes, f"supplied {supply.what}"]


