"""Network and storage as Azure CLI's hybrid-profile scenarios meet them, driven by the real track 2 clients
(each release's profile) and, for the versions no profile names, by plain REST: child resources shown in
their parent, a full PUT that replaces, the properties Network computes, and the older api-versions a
Stack's providers serve."""

from __future__ import annotations

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.network import NetworkManagementClient

from tests import sdk

RELEASES = ["2108", "2008"]


def _rest(info, method, path, version, body=None):
    url = f"{info['arm_endpoint']}subscriptions/{info['subscription_id']}/resourceGroups/rg/providers/{path}"
    response = requests.request(method, url, params={"api-version": version}, json=body, headers=sdk.bearer(info),
                                verify=info["ca_cert"], timeout=10)
    return response.status_code, (response.json() if response.content else None)


def _network(start_emulator, release="2108"):
    info, profile, _ = sdk.stack_with_group(start_emulator, release, "azure_ad", "Microsoft.Network")
    return info, sdk.client(NetworkManagementClient, info, profile)


# -- api-versions outside the profiles -------------------------------------------------------------


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("version", ["2015-06-15", "2015-05-01-preview", "2016-01-01", "2019-06-01"])
def test_storage_accounts_at_every_version_the_stack_storage_docs_list(start_emulator, release, version):
    """Microsoft's Stack storage docs list 2015-05-01-preview to 2019-06-01 for 2008 and later; ``az vm create``
    with unmanaged disks pins 2015-06-15, whose body names the account type in ``properties.accountType``."""
    info, _, _ = sdk.stack_with_group(start_emulator, release, "azure_ad", "Microsoft.Storage")
    body = {"location": "local", "properties": {"accountType": "Standard_LRS"}} if version < "2016" else \
        {"location": "local", "sku": {"name": "Standard_LRS"}, "kind": "Storage"}
    status, _ = _rest(info, "PUT", "Microsoft.Storage/storageAccounts/acct1", version, body)
    assert status in (200, 202)
    status, account = _rest(info, "GET", "Microsoft.Storage/storageAccounts/acct1", version)
    assert status == 200 and account["sku"]["name"] == "Standard_LRS"
    if version < "2016":
        assert account["properties"]["accountType"] == "Standard_LRS"


@pytest.mark.parametrize("release", RELEASES)
def test_load_balancers_at_2016_03_30_and_a_version_no_stack_serves(start_emulator, release):
    info, _, _ = sdk.stack_with_group(start_emulator, release, "azure_ad", "Microsoft.Network")
    status, lb = _rest(info, "PUT", "Microsoft.Network/loadBalancers/lb1", "2016-03-30", {"location": "local"})
    assert status == 201 and lb["sku"] == {"name": "Basic"}
    status, error = _rest(info, "GET", "Microsoft.Network/loadBalancers/lb1", "2020-11-01")
    assert status == 400 and error["error"]["code"] == "NoRegisteredProviderFound"  # as a Stack answers it


# -- children in their parent ----------------------------------------------------------------------


@pytest.mark.parametrize("release", RELEASES)
def test_a_security_rule_put_on_its_own_shows_in_its_group_normalised(start_emulator, release):
    info, network = _network(start_emulator, release)
    network.network_security_groups.begin_create_or_update("rg", "nsg", {"location": "local"}).result()
    network.security_rules.begin_create_or_update("rg", "nsg", "r1", {
        "protocol": "tcp", "access": "allow", "direction": "inbound", "priority": 100, "sourceAddressPrefix": "*",
        "destinationAddressPrefix": "*", "sourcePortRange": "*", "destinationPortRange": "22"}).result()
    _, nsg = _rest(info, "GET", "Microsoft.Network/networkSecurityGroups/nsg", "2018-11-01" if release == "2108" else "2017-10-01")
    (rule,) = nsg["properties"]["securityRules"]
    assert rule["name"] == "r1" and rule["id"].endswith("/networkSecurityGroups/nsg/securityRules/r1")
    assert (rule["properties"]["protocol"], rule["properties"]["access"], rule["properties"]["direction"]) == ("Tcp", "Allow", "Inbound")
    assert rule["properties"]["sourceAddressPrefixes"] == [] and rule["properties"]["destinationPortRanges"] == []
    assert [r.name for r in network.security_rules.list("rg", "nsg")] == ["r1"]
    assert {r["name"] for r in nsg["properties"]["defaultSecurityRules"]} >= {"AllowVnetInBound", "DenyAllOutBound"}
    network.security_rules.begin_delete("rg", "nsg", "r1").result()
    assert network.network_security_groups.get("rg", "nsg").security_rules == []


def test_subnets_and_rules_given_inline_become_children_and_a_put_without_them_removes_them(start_emulator):
    info, network = _network(start_emulator)
    network.virtual_networks.begin_create_or_update("rg", "vnet", {
        "location": "local", "address_space": {"address_prefixes": ["10.0.0.0/16"]},
        "subnets": [{"name": "a", "address_prefix": "10.0.0.0/24"}, {"name": "b", "address_prefix": "10.0.1.0/24"}]}).result()
    assert network.subnets.get("rg", "vnet", "b").address_prefix == "10.0.1.0/24"
    network.subnets.begin_create_or_update("rg", "vnet", "c", {"address_prefix": "10.0.2.0/24"}).result()
    assert [s.name for s in network.virtual_networks.get("rg", "vnet").subnets] == ["a", "b", "c"]
    sdk.vnet_with_a_subnet(network)
    assert [s.name for s in network.subnets.list("rg", "vnet")] == ["a"]


def test_load_balancer_children_show_in_it_with_the_properties_network_computes(start_emulator):
    info, network = _network(start_emulator)
    sdk.vnet_with_a_subnet(network)
    subnet = network.subnets.get("rg", "vnet", "a")
    lb = network.load_balancers.begin_create_or_update("rg", "lb", {
        "location": "local", "frontend_ip_configurations": [{"name": "fe", "subnet": {"id": subnet.id}}],
        "backend_address_pools": [{"name": "pool"}]}).result()
    (frontend,) = lb.frontend_ip_configurations
    assert frontend.private_ip_allocation_method == "Dynamic" and frontend.private_ip_address.startswith("10.0.0.")
    assert frontend.id.endswith("/loadBalancers/lb/frontendIPConfigurations/fe")
    status, pool = _rest(info, "GET", "Microsoft.Network/loadBalancers/lb/backendAddressPools/pool", "2018-11-01")
    assert status == 200 and pool["name"] == "pool"
    probe_body = {"properties": {"protocol": "tcp", "port": 80}}
    status, probe = _rest(info, "PUT", "Microsoft.Network/loadBalancers/lb/probes/p80", "2018-11-01", probe_body)
    assert status == 201 and probe["properties"]["protocol"] == "Tcp" and probe["properties"]["intervalInSeconds"] == 15
    assert [p.name for p in network.load_balancers.get("rg", "lb").probes] == ["p80"]


def test_a_network_interface_shows_its_ip_configurations_as_children(start_emulator):
    info, network = _network(start_emulator)
    sdk.vnet_with_a_subnet(network)
    subnet = network.subnets.get("rg", "vnet", "a")
    nic = sdk.nic_on(network, subnet.id, "ipconfig1")
    assert nic.ip_configurations[0].private_ip_allocation_method == "Dynamic"
    assert network.network_interface_ip_configurations.get("rg", "nic", "ipconfig1").private_ip_address == "10.0.0.4"
    assert [c.id for c in network.subnets.get("rg", "vnet", "a").ip_configurations] == [nic.ip_configurations[0].id]


# -- a full PUT replaces --------------------------------------------------------------------------


def test_a_full_put_replaces_the_properties_it_leaves_out_and_keeps_what_the_service_owns(start_emulator):
    """After ``ipsec-policy clear`` (a GET, then a PUT without the policies) no policy is left; tags a PUT omits go."""
    info, network = _network(start_emulator)
    gateway = {"location": "local", "properties": {"gatewayIpAddress": "198.51.100.1",
                                                   "localNetworkAddressSpace": {"addressPrefixes": ["10.1.0.0/16"]}}}
    _rest(info, "PUT", "Microsoft.Network/localNetworkGateways/lgw", "2018-11-01", gateway)
    first = network.public_ip_addresses.begin_create_or_update("rg", "ip", {
        "location": "local", "tags": {"a": "b"}, "idle_timeout_in_minutes": 10}).result()
    again = network.public_ip_addresses.begin_create_or_update("rg", "ip", {"location": "local"}).result()
    assert again.tags is None and again.idle_timeout_in_minutes == 4
    assert again.ip_address == first.ip_address and again.resource_guid == first.resource_guid
    status, connection = _rest(info, "PUT", "Microsoft.Network/connections/conn", "2018-11-01", {
        "location": "local", "properties": {
            "connectionType": "ipsec", "localNetworkGateway2": {"id": "x"}, "sharedKey": "k",
            "ipsecPolicies": [{"saLifeTimeSeconds": 300, "saDataSizeKilobytes": 1024, "ipsecEncryption": "AES256",
                               "ipsecIntegrity": "SHA256", "ikeEncryption": "AES256", "ikeIntegrity": "SHA384",
                               "dhGroup": "DHGroup14", "pfsGroup": "PFS14"}]}})
    assert status == 201 and connection["properties"]["connectionType"] == "IPsec"
    cleared = {**connection, "properties": {k: v for k, v in connection["properties"].items() if k != "ipsecPolicies"}}
    _, connection = _rest(info, "PUT", "Microsoft.Network/connections/conn", "2018-11-01", cleared)
    assert connection["properties"]["ipsecPolicies"] == []
    assert connection["properties"]["connectionStatus"] == "Unknown"


# -- properties Network computes ------------------------------------------------------------------


def test_peering_state_follows_both_sides(start_emulator):
    info, network = _network(start_emulator)
    vnets = {}
    for name, prefix in (("v1", "10.1.0.0/16"), ("v2", "10.2.0.0/16")):
        vnets[name] = network.virtual_networks.begin_create_or_update(
            "rg", name, {"location": "local", "address_space": {"address_prefixes": [prefix]}}).result()
    one = network.virtual_network_peerings.begin_create_or_update(
        "rg", "v1", "to2", {"remote_virtual_network": {"id": vnets["v2"].id}, "allow_virtual_network_access": True}).result()
    assert one.peering_state == "Initiated" and one.remote_address_space.address_prefixes == ["10.2.0.0/16"]
    back = network.virtual_network_peerings.begin_create_or_update(
        "rg", "v2", "to1", {"remote_virtual_network": {"id": vnets["v1"].id}}).result()
    assert back.peering_state == "Connected"
    assert network.virtual_network_peerings.get("rg", "v1", "to2").peering_state == "Connected"
    assert network.virtual_networks.get("rg", "v1").virtual_network_peerings[0].peering_state == "Connected"
    network.virtual_network_peerings.begin_delete("rg", "v2", "to1").result()
    assert network.virtual_network_peerings.get("rg", "v1", "to2").peering_state == "Disconnected"


def test_check_ip_address_answers_available_and_the_free_ones(start_emulator):
    info, network = _network(start_emulator)
    sdk.vnet_with_a_subnet(network)
    subnet = network.subnets.get("rg", "vnet", "a")
    sdk.nic_on(network, subnet.id)
    assert network.virtual_networks.check_ip_address_availability("rg", "vnet", ip_address="10.0.0.9").available is True
    taken = network.virtual_networks.check_ip_address_availability("rg", "vnet", ip_address="10.0.0.4")
    assert taken.available is False and taken.available_ip_addresses[0] == "10.0.0.5"


def test_a_vpn_gateway_has_its_sku_capacity_and_ip_configurations(start_emulator):
    info, network = _network(start_emulator)
    sdk.vnet_with_a_subnet(network, "GatewaySubnet", "10.0.255.0/27")
    subnet = network.subnets.get("rg", "vnet", "GatewaySubnet")
    ip = network.public_ip_addresses.begin_create_or_update("rg", "ip", {"location": "local"}).result()
    gateway = network.virtual_network_gateways.begin_create_or_update("rg", "gw", {
        "location": "local", "gateway_type": "vpn", "vpn_type": "routebased", "sku": {"name": "Basic", "tier": "Basic"},
        "ip_configurations": [{"name": "c", "subnet": {"id": subnet.id}, "public_ip_address": {"id": ip.id}}]}).result()
    assert (gateway.sku.name, gateway.sku.capacity, gateway.gateway_type, gateway.vpn_type) == ("Basic", 2, "Vpn", "RouteBased")
    assert gateway.ip_configurations[0].private_ip_allocation_method == "Dynamic"


def test_a_subnet_a_nic_uses_is_not_deleted_as_a_child(start_emulator):
    info, network = _network(start_emulator)
    sdk.vnet_with_a_subnet(network)
    subnet = network.subnets.get("rg", "vnet", "a")
    sdk.nic_on(network, subnet.id)
    with pytest.raises(HttpResponseError) as refused:
        network.subnets.begin_delete("rg", "vnet", "a").result()
    assert refused.value.error.code == "InUseSubnetCannotBeDeleted"


# -- what Azure CLI's hybrid scenarios found --------------------------------------------------------


def _vnet_and_nic(network):
    sdk.vnet_with_a_subnet(network)
    subnet = network.subnets.get("rg", "vnet", "a")
    nsg = network.network_security_groups.begin_create_or_update("rg", "nsg", {"location": "local"}).result()
    nic = sdk.nic_on(network, subnet.id, network_security_group={"id": nsg.id})
    return subnet, nic


def test_an_ipv6_ip_configuration_is_refused_on_a_stack(start_emulator):
    """``az network nic ip-config create --private-ip-address-version IPv6`` (the hybrid VM test's existing NIC):
    Microsoft's Stack networking differences say only IPv4 is supported."""
    info, network = _network(start_emulator)
    subnet, nic = _vnet_and_nic(network)
    body = nic.as_dict()
    body["ip_configurations"].append({"name": "v6", "private_ip_address_version": "IPv6"})
    with pytest.raises(HttpResponseError) as refused:
        network.network_interfaces.begin_create_or_update("rg", "nic", body).result()
    assert refused.value.status_code == 400 and "IPv4 only" in refused.value.error.message


def test_dns_servers_cleared_with_an_empty_string_are_an_empty_list(start_emulator):
    info, network = _network(start_emulator)
    vnet = network.virtual_networks.begin_create_or_update("rg", "vnet", {
        "location": "local", "address_space": {"address_prefixes": ["10.0.0.0/16"]},
        "dhcp_options": {"dns_servers": ["1.2.3.4"]}}).result()
    assert vnet.dhcp_options.dns_servers == ["1.2.3.4"]
    body = vnet.as_dict()
    body["dhcp_options"]["dns_servers"] = [""]
    assert network.virtual_networks.begin_create_or_update("rg", "vnet", body).result().dhcp_options.dns_servers == []


def test_effective_security_rules_and_routes_of_a_network_interface(start_emulator):
    info, network = _network(start_emulator)
    subnet, nic = _vnet_and_nic(network)
    (group,) = network.network_interfaces.begin_list_effective_network_security_groups("rg", "nic").result().value
    assert group.network_security_group.id == nic.network_security_group.id
    assert "DenyAllInBound" in {r.name for r in group.effective_security_rules}
    routes = network.network_interfaces.begin_get_effective_route_table("rg", "nic").result().value
    assert [(r.address_prefix, r.next_hop_type) for r in routes] == [(["10.0.0.0/16"], "VnetLocal"), (["0.0.0.0/0"], "Internet")]
    # As Network answers: Location alone (az's aaz poller would read a status document, which has no result).
    url = f"{info['arm_endpoint']}subscriptions/{info['subscription_id']}/resourceGroups/rg/providers/Microsoft.Network/" \
          "networkInterfaces/nic/effectiveRouteTable"
    response = requests.post(url, params={"api-version": "2018-11-01"}, headers=sdk.bearer(info), verify=info["ca_cert"],
                             timeout=10)
    assert response.status_code == 202 and "Location" in response.headers
    assert "Azure-AsyncOperation" not in response.headers


def test_provider_operations_name_each_served_types_actions(start_emulator):
    info = start_emulator().info()
    response = requests.get(f"{info['arm_endpoint']}providers/Microsoft.Authorization/providerOperations/microsoft.compute",
                            params={"api-version": "2015-07-01", "$expand": "resourceTypes"}, headers=sdk.bearer(info),
                            verify=info["ca_cert"], timeout=10)
    body = response.json()
    assert response.status_code == 200
    assert (body["id"], body["type"]) == ("/providers/Microsoft.Authorization/providerOperations/Microsoft.Compute",
                                          "Microsoft.Authorization/providerOperations")
    machines = next(t for t in body["resourceTypes"] if t["name"] == "virtualMachines")
    assert "Microsoft.Compute/virtualMachines/write" in {o["name"] for o in machines["operations"]}


@pytest.mark.parametrize("namespace", ["Microsoft.Storage", "Microsoft.Network"])
def test_usages_in_the_stacks_region_count_what_the_subscription_holds(start_emulator, namespace):
    info, network = _network(start_emulator)
    network.virtual_networks.begin_create_or_update("rg", "vnet", {
        "location": "local", "address_space": {"address_prefixes": ["10.0.0.0/16"]}}).result()
    base = f"{info['arm_endpoint']}subscriptions/{info['subscription_id']}/providers/{namespace}/locations"
    version = "2019-06-01" if namespace == "Microsoft.Storage" else "2018-11-01"
    response = requests.get(f"{base}/local/usages", params={"api-version": version}, headers=sdk.bearer(info),
                            verify=info["ca_cert"], timeout=10)
    usages = {u["name"]["value"]: u for u in response.json()["value"]}
    assert response.status_code == 200
    if namespace == "Microsoft.Network":
        assert usages["VirtualNetworks"]["currentValue"] == 1 and usages["VirtualNetworks"]["limit"] > 0
    else:
        assert usages["StorageAccounts"]["currentValue"] == 0
    response = requests.get(f"{base}/westus/usages", params={"api-version": version}, headers=sdk.bearer(info),
                            verify=info["ca_cert"], timeout=10)
    assert response.status_code == 404
    if namespace == "Microsoft.Storage":  # 2017-10-01 (az's show-usage on 2019-03-01-hybrid): for the subscription
        response = requests.get(base.rsplit("/locations", 1)[0] + "/usages", params={"api-version": "2017-10-01"},
                                headers=sdk.bearer(info), verify=info["ca_cert"], timeout=10)
        assert response.json()["value"][0]["name"]["value"] == "StorageAccounts"


def test_a_storage_accounts_network_rules_are_answered_in_the_specs_spelling(start_emulator):
    """``az storage account update --default-action deny`` sends the value as typed; Storage answers its enum."""
    info, _, _ = sdk.stack_with_group(start_emulator, "2108", "azure_ad", "Microsoft.Storage")
    body = {"location": "local", "sku": {"name": "Standard_LRS"}, "kind": "Storage",
            "properties": {"networkAcls": {"defaultAction": "deny", "bypass": "logging,metrics"}}}
    _rest(info, "PUT", "Microsoft.Storage/storageAccounts/acct2", "2019-06-01", body)
    _, account = _rest(info, "GET", "Microsoft.Storage/storageAccounts/acct2", "2019-06-01")
    acls = account["properties"]["networkAcls"]
    assert (acls["defaultAction"], acls["bypass"]) == ("Deny", "Logging, Metrics")
    assert acls["ipRules"] == [] and acls["virtualNetworkRules"] == []
