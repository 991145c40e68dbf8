"""The rules table: which failure of Azure CLI's hybrid suites is whose, and the evidence for it.

A rule names a test (a regular expression searched in ``module::file::Class::test``), a message (searched in the
failure's text), or both, optionally the configurations it holds for, and gives a one-line reason naming its
evidence. The first rule that matches a failure classifies it; a failure no rule matches is "unclassified" and makes
``classify`` exit 1. The reasons are the documentation: docs/emulator.md prints them as ``classify`` writes them.

Evidence, in the order the project trusts it: a real Stack's recorded answer > Microsoft's docs for Azure Stack Hub
> the API profiles (azure-rest-api-specs' ``profile`` folder: what each hybrid profile names) > our assumption.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Category:
    key: str
    title: str
    description: str


@dataclass(frozen=True)
class Rule:
    category: str
    reason: str
    test: str = ""
    message: str = ""
    configurations: tuple[str, ...] = ()
    _compiled: tuple[re.Pattern[str] | None, re.Pattern[str] | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (self.test or self.message):
            raise ValueError(f"a rule names a test, a message or both: {self.reason}")
        if self.category not in {c.key for c in CATEGORIES}:
            raise ValueError(f"unknown category {self.category!r} in rule: {self.reason}")
        compiled = (re.compile(self.test) if self.test else None, re.compile(self.message, re.DOTALL) if self.message else None)
        object.__setattr__(self, "_compiled", compiled)

    def describe(self, message: str) -> str:
        """The reason, with ``{0}`` (if it has one) filled by the message pattern's first group, e.g. the region."""
        found = self._compiled[1].search(message) if self._compiled[1] else None
        return self.reason.replace("{0}", found.group(1)) if found and found.groups() and "{0}" in self.reason else self.reason

    def matches(self, test: str, message: str, configuration: str) -> bool:
        test_pattern, message_pattern = self._compiled
        return ((not self.configurations or configuration in self.configurations)
                and (test_pattern is None or test_pattern.search(test) is not None)
                and (message_pattern is None or message_pattern.search(message) is not None))


PUBLIC_REGION = "public-region"
NO_STACK_SERVICE = "no-stack-service"
MARKETPLACE = "marketplace"
SKEW = "skew"
HARNESS = "harness"
EMULATOR = "emulator"

CATEGORIES = (
    Category(PUBLIC_REGION, "public Azure's names",
             "The test names public Azure's regions or endpoints (westus, eastus, ..., `core.windows.net`) or expects "
             "what only public Azure lists: a Stack has one region of its own (`local` here) and names of its own, and "
             "refuses the others, as the emulator does."),
    Category(NO_STACK_SERVICE, "no Stack has it",
             "A resource type, property or action that no Azure Stack Hub serves: in none of the hybrid profiles' "
             "tables nor Microsoft's Azure Stack Hub documentation (the reason names which)."),
    Category(MARKETPLACE, "operator's marketplace",
             "An image or extension a Stack offers only when its operator syndicates it from the marketplace; the "
             "emulated operator holds the items named in docs/emulator.md, a fresh Stack holds none."),
    Category(SKEW, "client/test skew",
             "The tests (azure-cli 2.64's source tree) and az 2.66.0 disagree, or the test needs what the testsdk sets "
             "up only in Microsoft's pipeline: it fails the same way against public Azure or any Stack."),
    Category(HARNESS, "outside the harness",
             "The test needs what no emulator offers and this harness does not reach: the internet, or a running "
             "VM's guest. A real Stack with internet access and booting VMs may pass it."),
    Category(EMULATOR, "the emulator's own",
             "The emulator answers otherwise than a Stack would: a defect, fixed or to fix (each names its fix and the test "
                 "guarding it)."),
)
UNCLASSIFIED = Category("unclassified", "unclassified",
                        "No rule matches: add one to tools/hybrid_suites/rules.py naming the evidence, or fix the emulator.")

# Regions of public Azure that tests name; a Stack's own region here is `local`.
PUBLIC_REGIONS = r"(westus|westus2|eastus|eastus2|centralus|southcentralus|northcentralus|westcentralus|francecentral|" \
                 r"westeurope|northeurope|eastasia|southeastasia|japaneast|uksouth|West US|East US|Central US)"

RULES: tuple[Rule, ...] = (
    # -- the emulator's own: each fixed, its test named (a run before the fix still shows it here) ----------------
    Rule(EMULATOR, "fixed (tests/test_emulator_storage_hybrid.py): a blob SAS signed the URL's `snapshot=` into its string "
                   "to sign, so a snapshot copied with a blob SAS was refused 403 CannotVerifyCopySource",
         test=r"::test_storage_blob_copy_with_sas_and_snapshot$", message=r"CannotVerifyCopySource|AzureHttpError"),
    Rule(EMULATOR, "fixed (tests/test_emulator_storage_hybrid.py): a new account's blob service properties had hour "
                   "metrics off; public Azure's new accounts have them on (7 days)",
         test=r"::test_storage_blob_upload_(small|midsize)_file$", message=r"'hourMetrics\.enabled' doesn't yield expected value 'True'"),
    Rule(EMULATOR, "fixed (tests/test_emulator_storage_hybrid.py): a content type cleared by Set Blob Properties was "
                   "answered as application/octet-stream; Azure answers none",
         test=r"::test_storage_blob_upload_(small|midsize)_file$", message=r"contentType.*application/octet-stream"),
    Rule(EMULATOR, "fixed (tests/test_emulator_storage_hybrid.py): az 2.66 sends an unmanaged OS disk's size as "
                   "`diskSizeGb`, which Azure reads as diskSizeGB (property names without case); the emulator made a 30 GiB VHD",
         test=r"::test_vm_set_os_disk_size$", message=r"AssertionError"),
    # -- storage ----------------------------------------------------------------------------------------------------
    Rule(PUBLIC_REGION, "`storage account show-usage -l westus`: a Stack answers usages for its own region only",
         test=r"^storage::.*::test_show_usage$"),
    Rule(PUBLIC_REGION, "expects `westus` (\"West US\") in `az account list-locations`; a Stack lists its own region",
         test=r"::test_list_locations$"),
    Rule(NO_STACK_SERVICE, "Azure Files (`<account>.file.` names): \"File storage: not yet supported\" (Microsoft, \"Azure Stack "
                           "Hub storage: Differences and considerations\"); the emulator's proxy refuses the name as a Stack's DNS "
                           "has none", message=r"host='[^']+\.file\."),
    Rule(PUBLIC_REGION, "uses public Azure's storage names (`*.core.windows.net`): a Stack's accounts are under its own "
                        "suffix (`local.azurestack.external`), and az, set to the Stack's cloud, cannot parse or reach them",
         message=r"core\.windows\.net"),
    Rule(NO_STACK_SERVICE, "service stats (Get Queue/Table/Blob Service Stats) answer only on a read-access geo-redundant "
                           "account's secondary endpoint; \"Replication options: Locally redundant storage\" (Microsoft, "
                           "\"Azure Stack Hub storage: Differences and considerations\")",
         message=r"get_(queue|table|blob)_service_stats"),
    Rule(NO_STACK_SERVICE, "incremental copy of a page blob's snapshot: \"Page blob incremental snapshot copy: Not yet "
                           "supported\" (Microsoft, \"Azure Stack Hub storage: Differences and considerations\")",
         message=r"incremental_copy_blob"),
    # -- network ----------------------------------------------------------------------------------------------------
    Rule(NO_STACK_SERVICE, "point-to-site VPN (`vpn-client generate`, action generatevpnprofile): \"Point-to-Site VPN Gateway: "
                           "Not yet supported\" (Microsoft, \"Differences and considerations for Azure Stack Hub networking\")",
         message=r"generatevpnprofile"),
    Rule(NO_STACK_SERVICE, "assumed: `vnet-gateway list-supported-devices` (action supportedvpndevices) is in Network "
                           "2018-11-01's spec, but no Stack answer nor Stack doc names it (Microsoft documents a Stack's VPN "
                           "devices as its own IPsec parameters page); the emulator answers it as unknown",
         message=r"supportedvpndevices"),
    Rule(NO_STACK_SERVICE, "subnet delegations (`locations/*/availableDelegations`): \"Private Access Services (Subnet): Not yet "
                           "supported\" (Microsoft, \"Differences and considerations for Azure Stack Hub networking\")",
         message=r"availableDelegations"),
    Rule(NO_STACK_SERVICE, "service endpoints (`locations/*/virtualNetworkAvailableEndpointServices`): \"Service Endpoints: Not "
                           "yet supported\" (Microsoft, \"Differences and considerations for Azure Stack Hub networking\")",
         message=r"virtualNetworkAvailableEndpointServices"),
    # -- vm -----------------------------------------------------------------------------------------------------------
    Rule(NO_STACK_SERVICE, "VM run command (action runCommand): every hybrid profile's Microsoft.Compute lists no "
                           "`locations/runCommands`, and Microsoft's list of Azure Marketplace items for Azure Stack Hub has "
                           "no Run Command handler (Microsoft.CPlat.Core) among its VM extensions",
         message=r"'runCommand' is not supported|runCommands"),
    Rule(NO_STACK_SERVICE, "a generation 2 image (`*-gen2` sku): \"Azure Stack Hub VM features\" (Microsoft) lists generation "
                           "1 VMs only for these releases",
         message=r"The platform image '[^']*gen2[^']*' is not available"),
    Rule(MARKETPLACE, "Debian 10/11: not on Microsoft's list of Azure Marketplace items for Azure Stack Hub (its Debian is "
                      "credativ's Debian 8); the emulated operator syndicated what docs/emulator.md lists",
         message=r"The platform image 'Debian:debian-1[01]"),
    Rule(MARKETPLACE, "the exact version 14.04.201503090 of Ubuntu 14.04.2-LTS that the test asks for: an operator "
                      "syndicates a marketplace item's current versions, not this one (az exits 3, not found)",
         test=r"::test_vm_image_show$", message=r"SystemExit: 3"),
    Rule(SKEW, "az 2.66 no longer knows the image alias `UbuntuLTS` the tests use (its alias list names Ubuntu2204 ...)",
         message=r'Invalid image "UbuntuLTS"'),
    Rule(SKEW, "az 2.66's `vm extension image` commands send Compute 2022-11-01 whatever the profile (an aaz command); "
               "a Stack refuses it as the emulator does, listing the versions it serves",
         message=r"for api version '2022-11-01'"),
    Rule(NO_STACK_SERVICE, "`{0}` (dedicated hosts, proximity placement groups, ...): a Compute type in none of the hybrid "
                           "profiles' tables nor Microsoft's \"Azure Stack Hub VM features\"; refused as a Stack refuses a "
                           "type it lacks, listing the versions it serves",
         message=r"The resource type '(hostGroups|hosts|proximityPlacementGroups|galleries|diskAccesses|diskEncryptionSets|"
                 r"sshPublicKeys|capacityReservationGroups|restorePointCollections)' could not be found"),
    Rule(NO_STACK_SERVICE, "patch assessment (action assessPatches): Compute has it from 2020-12-01, after every hybrid "
                           "profile's Compute (2020-06-01 at the newest)",
         message=r"'assessPatches' is not supported"),
    Rule(NO_STACK_SERVICE, "IPv6: \"Azure Stack Hub does not offer support for IPv6\" (Microsoft, \"Differences and "
                           "considerations for Azure Stack Hub networking\")",
         message=r"asks for IPv6|IPv6.*IPv4 only"),
    Rule(HARNESS, "fetches a page from nginx on the scale set's VMs through its load balancer (192.0.2.x): no VM boots here",
         test=r"::test_vmss_rolling_upgrade$", message=r"192\.0\.2\."),
    Rule(SKEW, "az 2.66 sends `orchestrationMode` with Compute 2020-06-01, whose spec has no such property (azure-mgmt-compute's "
               "2020-06-01 models lack it; it comes in 2020-12-01): the scale set is answered without it, as a Stack's Compute "
               "at that version would be (assumed)",
         message=r"'vmss\.orchestrationMode' doesn't yield expected value 'Uniform'"),
    Rule(PUBLIC_REGION, "`vm list-skus -l eastus2` / `-l westus` (with `--zone`): az filters the Stack's SKU list by a "
                        "region it does not have and finds none", test=r"::test_list_compute_skus_(filter|table_output)$"),
    Rule(NO_STACK_SERVICE, "Linux VM diagnostics (Microsoft.OSTCExtensions LinuxDiagnostic): \"Azure Stack Hub VM features\" "
                           "(Microsoft) says Linux VM diagnostics are not supported",
         message=r"'Microsoft\.OSTCExtensions' and type 'LinuxDiagnostic' could not be found"),
    Rule(MARKETPLACE, "Network Watcher's agent extension: not on Microsoft's list of Azure Marketplace items for Azure Stack "
                      "Hub (\"Network Watcher: Not yet supported\", networking differences)",
         message=r"'Microsoft\.Azure\.NetworkWatcher' and type 'NetworkWatcherAgentLinux' could not be found"),
    Rule(MARKETPLACE, "Red Hat RHEL 7-LVM: not on Microsoft's list of Azure Marketplace items for Azure Stack Hub",
         message=r"The platform image 'RedHat:RHEL:7-LVM"),
    Rule(SKEW, "az 2.66's `keyvault create` defaults to `--enable-rbac-authorization true`, so the caller gets no access "
               "policy; a Stack's vault (2016-10-01, no RBAC data plane) then refuses `certificate create` (403), on a real "
               "Stack as here (the 2.64 tests assume the old default)",
         message=r"does not have certificates create permission"),
    Rule(SKEW, "`vm image list --offer ubuntu` without --all reads az 2.66's alias list, whose Ubuntu is 22.04 "
               "(sku 22_04-lts-gen2), not the `*LTS` sku the 2.64 test expects: the same on any cloud",
         test=r"::test_vm_image_list_by_alias$", message=r"AssertionError"),
    Rule(NO_STACK_SERVICE, "application gateways: \"Application gateway, Layer-7 load balancing: Not yet supported\" "
                           "(Microsoft, \"Differences and considerations for Azure Stack Hub networking\")",
         message=r"'applicationGateways' could not be found"),
    Rule(SKEW, "the testsdk's progress capture reads az's own logger setup, which the in-process run of a live test "
               "leaves empty (IndexError in the testsdk): the same on any cloud",
         test=r"::test_(vm_create|group_deployment)_progress$", message=r"IndexError"),
    # -- resource ---------------------------------------------------------------------------------------------------
    Rule(NO_STACK_SERVICE, "management groups (Microsoft.Management): in none of the hybrid profiles; a Stack answers "
                           "InvalidResourceNamespace", message=r"namespace 'Microsoft\.Management' is invalid"),
    Rule(NO_STACK_SERVICE, "App Service (Microsoft.Web): an add-on resource provider an operator may install, not in a "
                           "Stack's base set (Microsoft, \"App Service on Azure Stack Hub overview\")",
         message=r"namespace 'Microsoft\.[Ww]eb' is invalid"),
    Rule(NO_STACK_SERVICE, "managed applications (Microsoft.Solutions): in none of the hybrid profiles",
         message=r"namespace 'Microsoft\.Solutions' is invalid|namespace 'Microsoft\.Solutions'"),
    Rule(NO_STACK_SERVICE, "shows Microsoft.ClassicInfrastructureMigrate, a namespace no Stack has (404 "
                           "InvalidResourceNamespace; az exits 3 for not found)",
         test=r"::test_provider_registration$", message=r"SystemExit: 3"),
    Rule(PUBLIC_REGION, "deletes its group and makes it again in `westus`, which a Stack refuses "
                        "(LocationNotAvailableForResourceGroup); the preparer's clean-up then reports the group not found",
         test=r"::test_resource_group(_no_wait)?$", message=r"ResourceGroupNotFound"),
    Rule(PUBLIC_REGION, "its parameters file (simple_deploy_parameters.json) sets location `westus`: the deployment fails "
                        "as on a Stack, and `deployment wait` reports \"The operation failed\"",
         test=r"::test_group_deployment_no_wait$", message=r"The operation failed"),
    Rule(NO_STACK_SERVICE, "assigns Azure's built-in policy definition 06a78e20-...: Microsoft documents no built-in policy "
                           "definitions for Azure Stack Hub, so the emulator lists none rather than invent them (assumed)",
         message=r"policy definition '06a78e20-9358-41c9-923c-fb736d382a4d' could not be found"),
    Rule(SKEW, "its name prefix is longer than the random name the testsdk makes (ValueError in the testsdk): the same "
               "on any cloud", message=r"prefix must not be longer than random name length"),
    Rule(HARNESS, "reads its template or parameters from raw.githubusercontent.com: this harness has no internet",
         message=r"raw\.githubusercontent\.com"),
    # -- any module: the last, generic rules ------------------------------------------------------------------------
    Rule(PUBLIC_REGION, "expects `{0}` in an answer; a Stack answers its own region",
         message=rf"expected value '{PUBLIC_REGIONS}'"),
    Rule(PUBLIC_REGION, "names `{0}` (its preparer, command or template); refused as a real Stack refuses a region not "
                        "its own (LocationNotAvailableForResourceGroup / ...ForResourceType)",
         message=r"location '(?!local')([^']+)' is not available"),
    Rule(PUBLIC_REGION, "asks for `{0}` in a `locations/{0}/...` path; a Stack serves its own region's",
         message=r"No HTTP resource was found that matches the request URI '[^']*/locations/(?!local/)([^/']+)/"),
    Rule(SKEW, "az 2.66 refuses an argument the 2.64 tests pass (argparse exits 2): the same on any cloud",
         message=r"SystemExit: 2"),
)
