"""The wire probe of ``python -m generator.catalog.pins verify``: run by a candidate venv's Python, never imported.

    python _pin_probe.py PACKAGE INFO.json [INFO.json ...]

Signs in and builds each management client of PACKAGE the way a Stack needs (its Resource Manager, the
token scope from its metadata, the profile) against each emulator described by an INFO file, and makes
one call with each. An emulator of a hybrid release serves only that release's api-versions, so a release
that drops a version, or ignores ``profile=``, fails there; a credential release that cannot sign in on
Azure AD or ADFS fails too. Prints one JSON object: the INFO's ``target`` -> "ok" or the error.
It imports only what the candidate venv has (the Azure SDK), nothing of azs-scaffold.
"""

import json
import sys

import requests

# package -> (module, client, the call that shows the api-version is served)
CALLS = {
    "azure-mgmt-resource": [("azure.mgmt.resource", "ResourceManagementClient", lambda c: list(c.resource_groups.list())),
                            ("azure.mgmt.resource", "SubscriptionClient", lambda c: list(c.subscriptions.list()))],
    "azure-mgmt-storage": [("azure.mgmt.storage", "StorageManagementClient", lambda c: list(c.storage_accounts.list()))],
    "azure-mgmt-network": [("azure.mgmt.network", "NetworkManagementClient", lambda c: list(c.virtual_networks.list_all()))],
    "azure-mgmt-keyvault": [("azure.mgmt.keyvault", "KeyVaultManagementClient", lambda c: list(c.vaults.list_by_subscription()))],
    "azure-mgmt-compute": [("azure.mgmt.compute", "ComputeManagementClient", lambda c: list(c.virtual_machines.list_all()))],
}
# Credential and pipeline packages are proven by signing in and making the resource calls.
CALLS["azure-identity"] = CALLS["azure-core"] = CALLS["azure-mgmt-resource"]

def probe(package, info):
    import importlib

    from azure.identity import ClientSecretCredential
    from azure.profiles import KnownProfiles

    endpoints = requests.get(f"{info['arm_endpoint']}metadata/endpoints?api-version=2015-01-01", verify=info["root_ca"],
                             timeout=30).json()["authentication"]
    adfs = info["identity_system"] == "adfs"
    login = endpoints["loginEndpoint"].rstrip("/")
    credential = ClientSecretCredential("adfs" if adfs else info["tenant_id"], info["client_id"], info["client_secret"],
                                        authority=login[: -len("/adfs")] if adfs else login,
                                        disable_instance_discovery=True, connection_verify=info["identity_ca_cert"])
    options = {"base_url": info["arm_endpoint"], "credential_scopes": [endpoints["audiences"][0] + "/.default"],
               "connection_verify": info["root_ca"], "profile": getattr(KnownProfiles, info["profile"])}
    for module, name, call in CALLS[package]:
        cls = getattr(importlib.import_module(module), name)
        client = cls(credential, **options) if name == "SubscriptionClient" else cls(credential, info["subscription_id"], **options)
        call(client)


def main():
    package, files = sys.argv[1], sys.argv[2:]
    results = {}
    for path in files:
        with open(path, encoding="utf-8") as handle:
            info = json.load(handle)
        try:
            probe(package, info)
            results[info["target"]] = "ok"
        except Exception as exc:  # any failure is the finding
            results[info["target"]] = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
