"""What a team supplies for the quickstarts that deploy into what it has (``--supply``): for each such template, the
resources it names made first (written here, our own small templates), the values its parameters file leaves to the
team, or the group name it expects. A template that then deploys shows the emulator is not at fault behind its
"team supplies" failure; one that fails shows what comes next.

Values may hold ``{group}`` (the template's resource group), ``{subscription}`` and ``{storage}`` (the Stack's storage
suffix, ``local.azurestack.external``); a resource may use
``[parameters('password')]`` (the run's made-up password, for a vault secret)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LOCATION = "[resourceGroup().location]"
_NETWORK_API = "2017-10-01"


@dataclass(frozen=True)
class Supply:
    """What the team has before it deploys one template."""

    what: str  # one line: what is supplied
    resources: tuple[dict[str, Any], ...] = ()  # made first in the template's group
    parameters: dict[str, Any] = field(default_factory=dict)  # values given instead of the file's
    first: tuple[str, dict[str, Any]] | None = None  # a corpus template deployed first into the group, with these values
    group: str = ""  # the resource group name the template expects (it names it in resource ids)
    elsewhere: tuple[str, tuple[dict[str, Any], ...]] | None = None  # a group of its own and what is made there
    # Files of the corpus the team stages in a storage account it makes (``resources``): (account, container made with
    # public read access, the corpus folder whose *.json go in, the blob name prefix).
    staged: tuple[str, str, str, str] | None = None


def network(name: str, subnet: str, prefix: str = "10.0.0.0/16", subnet_prefix: str = "10.0.0.0/24") -> dict[str, Any]:
    return {"type": "Microsoft.Network/virtualNetworks", "apiVersion": _NETWORK_API, "name": name, "location": LOCATION,
            "properties": {"addressSpace": {"addressPrefixes": [prefix]},
                           "subnets": [{"name": subnet, "properties": {"addressPrefix": subnet_prefix}}]}}


def storage_account(name: str) -> dict[str, Any]:
    return {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2016-01-01", "name": name, "location": LOCATION,
            "sku": {"name": "Standard_LRS"}, "kind": "Storage", "properties": {}}


def vault_with_secret(secret: str) -> tuple[dict[str, Any], ...]:
    vault = {"type": "Microsoft.KeyVault/vaults", "apiVersion": "2016-10-01", "name": "[concat('kv', resourceGroup().name)]",
             "location": LOCATION, "properties": {"tenantId": "[subscription().tenantId]", "sku": {"family": "A", "name": "standard"},
                                                  "accessPolicies": [], "enabledForTemplateDeployment": True}}
    return vault, {"type": "Microsoft.KeyVault/vaults/secrets", "apiVersion": "2016-10-01",
                   "name": f"[concat('kv', resourceGroup().name, '/{secret}')]", "dependsOn": ["[concat('kv', resourceGroup().name)]"],
                   "properties": {"value": "[parameters('password')]"}}


_VHD = "https://images.blob.local.azurestack.external/vhds/golden.vhd"
_SUBNET_ID = "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/{network}/subnets/{subnet}"
_AD_NETWORK = network("ADVNET{group}", "ADStaticSubnet{group}")

SUPPLIES: dict[str, Supply] = {
    "101-simple-linux-vm-custom-managed-disk": Supply("the custom image's name and VHD", parameters={
        "imageName": {"value": "golden"}, "imageUri": {"value": _VHD}}),
    "101-simple-windows-vm-custom-managed-disk": Supply("the custom image's name and VHD", parameters={
        "imageName": {"value": "golden"}, "imageUri": {"value": _VHD}}),
    "101-vm-windows-create-passwordfromkv": Supply("a vault enabled for template deployment holding the password",
                                                   resources=vault_with_secret("vmAdminPassword"), parameters={
        "adminPassword": {"reference": {"keyVault": {"id": "/subscriptions/{subscription}/resourceGroups/{group}/providers/"
                                                            "Microsoft.KeyVault/vaults/kv{group}"}, "secretName": "vmAdminPassword"}}}),
    "101-vm-windows-create-with-extension-diagnostic": Supply("the diagnostics storage account in group DiagRg",
                                                              elsewhere=("DiagRg", (storage_account("testmonstorage"),))),
    "201-vmss-linux-existing-vnet": Supply("a virtual network", resources=(network("v", "s"),), parameters={
        "existingSubnetResourceId": {"value": _SUBNET_ID.replace("{network}", "v").replace("{subnet}", "s")}}),
    "201-vmss-scalein-scaleout-existing": Supply("the scale set (101-vmss-windows-vm's)", first=(
        "101-vmss-windows-vm", {"vmssName": {"value": "MyExistingVmss"}})),
    "ScaleInOutExistingVmss-managed": Supply("the scale set (101-vmss-windows-vm's)", first=(
        "101-vmss-windows-vm", {"vmssName": {"value": "MyExistingVmss"}})),
    "201-vmss-windows-customimage": Supply("the image VHD's URL", parameters={"osImageUrl": {"value": _VHD}}),
    "MicrosoftMonitoringAgent-ext-win": Supply("the VM (101-vm-windows-create's)", first=(
        "101-vm-windows-create", {"vmName": {"value": "AzureStackVMname"}})),
    "ad-join-domain-ext-win": Supply("the domain's virtual network", resources=(_AD_NETWORK,)),
    "rds-deployment-existing-ad": Supply("the domain's virtual network", resources=(_AD_NETWORK,)),
    "rds-deployment-ha-broker": Supply("the deployment's virtual network", resources=(network("vnet", "subnet"),)),
    "rds-deployment-ha-gateway": Supply("the deployment's virtual network", resources=(network("vnet", "Subnet"),)),
    "rds-update-rdsh-collection": Supply("the deployment's virtual network, the image VHD's storage account and its broker "
                                         "VM (101-vm-windows-create's)", resources=(network("vnet", "subnet"), storage_account("rdsstorage")),
                                         first=("101-vm-windows-create", {"vmName": {"value": "cb-vm"}})),
    "mysql-standalone-server-windows": Supply("the admin's name", parameters={"adminUsername": {"value": "azsuser"}}),
    "sql-2016-alwayson": Supply("the domain's DNS suffix", parameters={"dnsSuffix": {"value": "contoso.local"}}),
    "appservice-fileserver-sqlserver-ha": Supply("the OS and SQL versions for the file's placeholders", parameters={
        "OSBaseVersion": {"value": "2022-Datacenter-core"}, "OSSQLVersion": {"value": "sql2019-ws2019"}}),
    "101-vm-linux-docker-registry": Supply(
        "the admin, VM image and size, address names, a storage account and container, a vault and its certificate's URL",
        resources=(storage_account("reg{group}"), vault_with_secret("registrycert")[0]), parameters={
            "adminUsername": {"value": "azsuser"}, "virtualMachineSize": {"value": "Standard_F8s_v2"},
            "virtualMachinePublisher": {"value": "Canonical"}, "virtualMachineOffer": {"value": "UbuntuServer"},
            "virtualMachineSku": {"value": "16.04-LTS"}, "virtualMachineVersion": {"value": "latest"},
            "pipName": {"value": "registry-ip"}, "pipDomainNameLabel": {"value": "registry{group}"},
            "pipAllocationMethod": {"value": "Dynamic"}, "storageAccountContainer": {"value": "registry"},
            "storageAccountResourceId": {"value": "/subscriptions/{subscription}/resourceGroups/{group}/providers/"
                                                  "Microsoft.Storage/storageAccounts/reg{group}"},
            "pfxKeyVaultResourceId": {"value": "/subscriptions/{subscription}/resourceGroups/{group}/providers/"
                                               "Microsoft.KeyVault/vaults/kv{group}"},
            "pfxKeyVaultSecretUrl": {"value": "https://kv{group}.vault.local.azurestack.external/secrets/registrycert/1"},
            "pfxThumbprint": {"value": "0" * 40}, "registryTag": {"value": "2.7.1"}, "registryReplicas": {"value": "20"}}),
    "201-webapp-and-serviceplan": Supply("the names the parameters file leaves empty", parameters={
        "appname": {"value": "app{group}"}, "hostingPlanName": {"value": "plan"}, "location": {"value": "local"},
        "subscriptionId": {"value": "{subscription}"}, "serverFarmResourceGroup": {"value": "{group}"}}),
    "sample-hybrid-application/Hybrid-Deployment/Hybrid-AzureStack": Supply(
        "the site and plan names, and its SQL script's template staged where baseUrl names", resources=(storage_account("art{group}"),),
        staged=("art{group}", "northwind", "sample-hybrid-application/Hybrid-Deployment/northwind", ""), parameters={
            "siteName": {"value": "site{group}"}, "hostingPlanName": {"value": "plan"},
            "baseUrl": {"value": "https://art{group}.blob.{storage}/northwind"}}),
    "sample-hybrid-application/Hybrid-Deployment/Hybrid-Azure": Supply("the names and address ranges", parameters={
        "siteName": {"value": "site{group}"}, "hostingPlanName": {"value": "plan"}, "EnvironmentName": {"value": "env{group}"},
        "AddressPrefix": {"value": "10.0.0.0/16"}, "Subnet": {"value": "10.0.0.0/24"}, "GatewaySubnet": {"value": "10.0.1.0/24"},
        "LocalGatewayIPAddress": {"value": "192.0.2.1"}, "LocalGatewayAddressPrefix": {"value": "10.1.0.0/16"}}),
    "rds-update-certificate": Supply("the broker VM (101-vm-windows-create's)", first=(
        "101-vm-windows-create", {"vmName": {"value": "cb-vm"}})),
    "ethereum-consortium-blockchain/quickstart": Supply(
        "its nested templates, staged in the storage account its links name", resources=(storage_account("blkchainsa"),),
        staged=("blkchainsa", "blkchaincont", "ethereum-consortium-blockchain/nested", "nested")),
    "wsus": Supply("a virtual network, and the group name WSUSRG its resource ids name", group="WSUSRG",
                   resources=(network("myvirtualnetwork", "default", "172.16.0.0/16", "172.16.0.0/24"),)),
}


def filled(value: Any, group: str, subscription: str, storage: str = "") -> Any:
    """``value`` with ``{group}``, ``{subscription}`` and ``{storage}`` replaced, in strings, lists and objects."""
    if isinstance(value, dict):
        return {filled(k, group, subscription, storage): filled(v, group, subscription, storage) for k, v in value.items()}
    if isinstance(value, list):
        return [filled(v, group, subscription, storage) for v in value]
    if not isinstance(value, str):
        return value
    return value.replace("{group}", group).replace("{subscription}", subscription).replace("{storage}", storage)
