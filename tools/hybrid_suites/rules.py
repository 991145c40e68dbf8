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
    Category(PUBLIC_REGION, "public region",
             "The test names a public Azure region (westus, eastus, ...) or reads what only public Azure lists there; "
             "a Stack has one region of its own (`local` here) and refuses the others, as the emulator does."),
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
             "The emulator answers otherwise than a Stack would: a defect to fix (each names its issue)."),
)
UNCLASSIFIED = Category("unclassified", "unclassified",
                        "No rule matches: add one to tools/hybrid_suites/rules.py naming the evidence, or fix the emulator.")

# Regions of public Azure that tests name; a Stack's own region here is `local`.
PUBLIC_REGIONS = r"(westus|westus2|eastus|eastus2|centralus|southcentralus|northcentralus|westcentralus|francecentral|" \
                 r"westeurope|northeurope|eastasia|southeastasia|japaneast|uksouth|West US|East US|Central US)"

RULES: tuple[Rule, ...] = (
    # -- storage ----------------------------------------------------------------------------------------------------
    Rule(PUBLIC_REGION, "`storage account show-usage -l westus`: a Stack answers usages for its own region only",
         test=r"^storage::.*::test_show_usage$"),
    Rule(PUBLIC_REGION, "expects `westus` (\"West US\") in `az account list-locations`; a Stack lists its own region",
         test=r"::test_list_locations$"),
    Rule(NO_STACK_SERVICE, "Azure Files (`<account>.file.` names): \"File storage: not yet supported\" (Microsoft, \"Azure Stack "
                           "Hub storage: Differences and considerations\"); the emulator's proxy refuses the name as a Stack's DNS "
                           "has none", message=r"host='[^']+\.file\."),
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
    # -- any module: the last, generic rules ------------------------------------------------------------------------
    Rule(PUBLIC_REGION, "names `{0}` (its preparer, command or template); refused as a real Stack refuses a region not "
                        "its own (LocationNotAvailableForResourceGroup / ...ForResourceType)",
         message=rf"location '{PUBLIC_REGIONS}' is not available"),
)
