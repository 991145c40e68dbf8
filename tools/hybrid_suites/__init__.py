"""Azure CLI's own hybrid-profile scenario tests against the emulator: ``run`` them from an azure-cli checkout,
``classify`` every failure of their junit XML by the rules table (``rules.py``). ``python -m tools.hybrid_suites -h``."""

# (release, identity system) -> the az profile Microsoft documents for it and the folder of its hybrid tests.
CONFIGURATIONS = {
    "2108+azure_ad": ("2108", "azure_ad", "2020-09-01-hybrid", "hybrid_2020_09_01"),
    "2108+adfs": ("2108", "adfs", "2020-09-01-hybrid", "hybrid_2020_09_01"),
    "2008+azure_ad": ("2008", "azure_ad", "2019-03-01-hybrid", "hybrid_2019_03_01"),
}
MODULES = ("storage", "network", "resource", "keyvault", "vm")
