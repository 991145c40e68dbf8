"""A soak: the SDK samples' calls repeated for about two minutes against one emulator (its own process, run as a
user runs it), its resident memory and threads sampled; they must end near where they began."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import sdk
from tests.helpers import EMULATOR_PROXY_PORT

SOAK_SECONDS = float(os.environ.get("AZS_SOAK_SECONDS", "120"))


def _sample(pid: int) -> tuple[int, int]:
    """(resident kB, threads) of a process, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["Threads"])


def _register(info: dict) -> None:
    """What a project's register_providers.py does first (a Stack's subscription starts with none registered)."""
    from azure.mgmt.resource import ResourceManagementClient

    with sdk.client(ResourceManagementClient, info, sdk.PROFILE_OF_RELEASE["2108"]) as resources:
        for namespace in ("Microsoft.Storage", "Microsoft.Network"):
            resources.providers.register(namespace)
        deadline = time.monotonic() + 60
        while any(resources.providers.get(n).registration_state != "Registered" for n in ("Microsoft.Storage", "Microsoft.Network")):
            assert time.monotonic() < deadline, "providers not registered within a minute"
            time.sleep(0.5)


def _round(info: dict, n: int) -> None:
    """What Microsoft's hybrid samples do: a group, a storage account and its keys, a virtual network, a template
    deployment, the group's resources listed, then the group deleted."""
    from azure.mgmt.network import NetworkManagementClient
    from azure.mgmt.resource import ResourceManagementClient
    from azure.mgmt.storage import StorageManagementClient

    profile = sdk.PROFILE_OF_RELEASE["2108"]
    resources = sdk.client(ResourceManagementClient, info, profile)
    storage = sdk.client(StorageManagementClient, info, profile)
    network = sdk.client(NetworkManagementClient, info, profile)
    group = f"soak-{n}"
    resources.resource_groups.create_or_update(group, {"location": info["location"]})
    storage.storage_accounts.begin_create(group, f"soak{n}", {"location": info["location"], "kind": "Storage",
                                                              "sku": {"name": "Standard_LRS"}}).result()
    assert storage.storage_accounts.list_keys(group, f"soak{n}").keys
    network.virtual_networks.begin_create_or_update(group, "vnet", {
        "location": info["location"], "address_space": {"address_prefixes": ["10.0.0.0/16"]},
        "subnets": [{"name": "default", "address_prefix": "10.0.0.0/24"}]}).result()
    template = {"$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
                "contentVersion": "1.0.0.0", "resources": [], "outputs": {"n": {"type": "int", "value": n}}}
    deployment = resources.deployments.begin_create_or_update(
        group, "soak", {"properties": {"mode": "Incremental", "template": template}}).result()
    assert deployment.properties.outputs["n"]["value"] == n
    assert len(list(resources.resources.list_by_resource_group(group))) == 2
    resources.resource_groups.begin_delete(group).result()
    for client in (resources, storage, network):
        client.close()


@pytest.mark.slow
def test_an_emulator_ends_a_two_minute_soak_as_small_as_it_began(tmp_path):
    info_file = tmp_path / "info.json"
    emulator = subprocess.Popen(
        [sys.executable, "-m", "generator", "emulator", "--info-file", str(info_file), "--state-dir", str(tmp_path / "state"),
         "--proxy-port", str(EMULATOR_PROXY_PORT), "--registration-delay", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert emulator.stdout is not None
        for line in emulator.stdout:
            if "Press Ctrl-C" in line:
                break
        info = json.loads(info_file.read_text())
        _register(info)
        _round(info, 0)  # warm: caches, the first clients' imports
        start = _sample(emulator.pid)
        samples, rounds = [start], 1
        ends = time.monotonic() + SOAK_SECONDS
        while time.monotonic() < ends:
            _round(info, rounds)
            rounds += 1
            samples.append(_sample(emulator.pid))
        end = _sample(emulator.pid)
        peak = max(rss for rss, _ in samples)
        print(f"soak: {rounds} rounds in {SOAK_SECONDS:.0f} s; resident {start[0] // 1024} MB -> {end[0] // 1024} MB "
              f"(peak {peak // 1024} MB); threads {start[1]} -> {end[1]} (peak {max(t for _, t in samples)})")
        assert rounds >= 5
        assert end[0] - start[0] < 40 * 1024, f"resident memory grew from {start[0]} kB to {end[0]} kB"
        assert end[1] <= start[1] + 8, f"threads grew from {start[1]} to {end[1]}"
        assert max(t for _, t in samples) <= 64
    finally:
        emulator.terminate()
        emulator.wait(30)
