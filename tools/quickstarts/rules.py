"""Why a quickstart template fails: a table of rules (template folder and/or error pattern -> category and a one-line
reason naming the evidence), first match wins. A failure no rule matches is ``unclassified``.

Categories, the order of docs/emulator.md's table: what a Stack shares (needs the internet, needs an add-on or a
marketplace item an operator adds, needs a resource the team supplies, a Stack refuses it too) and what it does not
(the emulator's own, unclassified)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

DEPLOYED = "deployed"
INTERNET = "internet"
ADD_ON = "add-on"
TEAM = "team"
STACK_REFUSES = "stack"
EMULATOR = "emulator"
UNCLASSIFIED = "unclassified"
CATEGORIES = {
    DEPLOYED: "deployed",
    INTERNET: "needs the internet",
    ADD_ON: "needs an add-on or marketplace item an operator adds",
    TEAM: "needs a resource or value the team supplies",
    STACK_REFUSES: "a Stack refuses it too",
    EMULATOR: "the emulator's own",
    UNCLASSIFIED: "unclassified",
}


def failing_categories() -> tuple[str, ...]:
    """The categories that make the run fail: a fault of the emulator, or one nobody has explained."""
    return (EMULATOR, UNCLASSIFIED)


@dataclass(frozen=True)
class Rule:
    """A failure of a template whose folder matches ``folder`` (a regular expression, whole path) and whose evidence
    (``CODE: message``) matches ``error`` (searched, case-insensitive) is ``category``, for ``reason``. A rule without
    ``folder`` holds for every template; one without ``error`` for every failure of its folders."""

    category: str
    reason: str
    folder: str = ""
    error: str = ""

    def matches(self, folder: str, evidence: str) -> bool:
        return ((not self.folder or re.fullmatch(self.folder, folder) is not None)
                and (not self.error or re.search(self.error, evidence, re.IGNORECASE) is not None))


_EXISTING_NETWORK = ("ad-join-domain-ext-win|rds-deployment-existing-ad|rds-deployment-ha-broker|rds-deployment-ha-gateway|"
                     "rds-update-rdsh-collection|wsus|201-vmss-linux-existing-vnet")
_APP_SERVICE = "201-webapp-and-serviceplan|sample-hybrid-application/Hybrid-Deployment/Hybrid-Azure(Stack)?|201-webapp-gdpr-compliant"

# Folder rules first (what one template's files show), then rules by error alone. Each reason names its evidence.
RULES: tuple[Rule, ...] = (
    # -- the emulator's own (fixed; kept so that a return shows): azs_emulator/template_keywords.py, TemplateEvaluation.ordered
    Rule(EMULATOR, "declares its parameters' defaults as 'defaultvalue', which Resource Manager reads as defaultValue",
         folder="101-vm-windows-apply-extension-customscript-(cmd|pscmd|sf)|ApplyCustomScriptExtensionToWindowsVm\\+managed",
         error="'vmName' is not provided"),
    Rule(EMULATOR, "its VMs name NICs made earlier in the template without depending on them; Resource Manager has "
         "the NICs done first", folder="jetstress-2013-exchange-loadtest", error=r"Network interface .* was not found"),
    Rule(EMULATOR, "a VM or scale set from a user image VHD or a managed image (imageReference.id) taken for a marketplace "
         "image", error=r"PlatformImageNotFound: The platform image 'None:None:None"),
    # -- a Stack refuses it too: the template or its parameters file is wrong for any Resource Manager
    Rule(STACK_REFUSES, "the template is not JSON (an 'if' block with a ':' inside an array, line 168); Resource "
         "Manager cannot read it", folder="101-vm-linux-create-passwordfromkv", error="unreadable"),
    Rule(STACK_REFUSES, "the parameters file gives NoOfDisks the string \"2\" for an int parameter; Resource Manager "
         "refuses it (\"Template parameter JToken type is not valid. Expected 'Integer'. Actual 'String'\", its validation's "
         "answer in microsoft/vscode-azurearmtools' tests)", folder="AzureBackupServer", error="NoOfDisks.*not of type 'int'"),
    Rule(STACK_REFUSES, "a VM depends on the storage account variables('storageName') the template never defines (it "
         "makes 'diag...'); Resource Manager refuses a dependsOn of a resource not in the template (\"is not defined in the "
         "template\", microsoft/vscode-azurearmtools#493)",
         folder="301-availability-set-elastic-storage-ecs", error="is not defined in the template"),
    Rule(STACK_REFUSES, "the hybrid application's global Azure side (an App Service Environment): it names Network "
         "2018-02-01, which Stacks before 2506 do not serve (see \"API tables\"; from 2506 it needs App Service)",
         folder="sample-hybrid-application/Hybrid-Deployment/Hybrid-Azure",
         error=r"api-version '2018-02-01' .* is not served"),
    Rule(STACK_REFUSES, "its nested deployment of nested/vmExtension.json passes apiVersionStorageAccounts, which that "
         "template does not declare; Resource Manager refuses an undeclared parameter (\"The template parameters ... are not "
         "valid; they are not present in the original template\", microsoft/vscode-azurearmtools' linked-template tests)",
         folder="ethereum-consortium-blockchain/quickstart", error="apiVersionStorageAccounts are not declared"),
    # -- needs a resource or value the team supplies (the parameters file names one that is not there, or leaves it out)
    Rule(TEAM, "deploys into an existing virtual network (or an Active Directory's) that the parameters name",
         folder=_EXISTING_NETWORK, error=r"Subnet .* was not found"),
    Rule(TEAM, "scales an existing scale set the parameters name", folder="201-vmss-scalein-scaleout-existing|"
         "ScaleInOutExistingVmss-managed", error="virtualMachineProfile' is missing"),
    Rule(TEAM, "the parameters file leaves the custom image (imageName, imageUri) for the team: null values",
         folder="101-simple-(linux|windows)-vm-custom-managed-disk", error="imageName' is not of type"),
    Rule(TEAM, "the admin password comes from the team's own Key Vault (the parameters file names a placeholder vault)",
         folder="101-vm-windows-create-passwordfromkv", error="key vault"),
    Rule(TEAM, "the diagnostics go to the team's existing storage account in another group (listKeys of it)",
         folder="101-vm-windows-create-with-extension-diagnostic", error="listKeys"),
    Rule(TEAM, "the parameters file leaves the public IP and registry names empty for the team (it then needs "
         "Standard_F8s_v2, a storage account and a Key Vault certificate of the team's)", folder="101-vm-linux-docker-registry",
         error="named '' needs"),
    Rule(TEAM, "the parameters file gives OSBaseVersion the placeholder 'OS-Version' for the team to replace",
         folder="appservice-fileserver-sqlserver-ha", error="'OS-Version'"),
    Rule(TEAM, "App Service (an add-on) after the names the parameters file leaves empty or out for the team",
         folder=_APP_SERVICE, error=r"named '' needs|is not provided"),
    Rule(TEAM, "links its nested templates from a blob container on the Stack that the team stages them in "
         "(blkchainsa.blob.<region>.<fqdn>/blkchaincont)", folder="ethereum-consortium-blockchain/quickstart",
         error=r"InvalidContentLink: Unable to download .*blkchainsa"),
    # -- needs an add-on resource provider or a marketplace item an operator adds
    Rule(ADD_ON, "the SQL or MySQL resource provider, an add-on an operator installs", error=r"NoRegisteredProviderFound.*"
         r"namespace 'Microsoft\.(SQL|MySQL)Adapter"),
    Rule(ADD_ON, "App Service (Microsoft.Web), an add-on an operator installs", error=r"NoRegisteredProviderFound.*Microsoft\.Web"),
    Rule(ADD_ON, "a marketplace image the operator has not downloaded (the emulator's catalogue is a syndication of "
         "the common ones)", error=r"PlatformImageNotFound: The platform image '(?!None:)"),
    # -- needs the internet
    Rule(INTERNET, "a nested deployment links its template (templateLink) from GitHub",
         error=r"links its template \(templateLink\) from 'https://raw\.githubusercontent\.com/"),
    Rule(INTERNET, "reads deployment().properties.templateLink: it must be deployed from its GitHub URL (its DSC and "
         "scripts come from there)", error="no property 'templateLink'"),
    # -- needs a resource or value the team supplies, by error alone
    Rule(TEAM, "installs an extension on an existing VM the parameters name", error="ParentResourceNotFound"),
    Rule(TEAM, "the parameters file leaves a value out for the team (no default)", error=r"value for the template parameter '.*' is not provided"),
)


def classify(result: dict[str, Any], rules: tuple[Rule, ...] | None = None) -> tuple[str, str]:
    """(category, reason) of one template's outcome (``folder``, ``outcome``, ``code``, ``message``)."""
    if result.get("outcome") == DEPLOYED:
        return DEPLOYED, ""
    evidence = f"{result.get('code', '')}: {result.get('message', '')}"
    for rule in RULES if rules is None else rules:
        if rule.matches(result["folder"], evidence):
            return rule.category, rule.reason
    return UNCLASSIFIED, "no rule explains it"
