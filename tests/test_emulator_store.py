"""The emulator's store (azs_emulator/store.py): what it keeps survives restarts and crashes, an older state.json is
migrated, a request that fails keeps nothing, a second emulator on the same directory is refused, and a write costs
the same whatever the store holds. Through the real SDK where a client would see it."""

from __future__ import annotations

import importlib
import inspect
import shutil
import signal
import statistics
import subprocess
import time
from pathlib import Path

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.resource import ResourceManagementClient
from azure.mgmt.storage import StorageManagementClient
from azure.profiles import KnownProfiles

from azs_emulator import Emulator, EmulatorConfig
from azs_emulator.errors import EmulatorError
from azs_emulator.protocol import ArmError
from azs_emulator.services import registry
from azs_emulator.services.registry import section_owners
from azs_emulator.state import EmulatorState, StateData
from tests import sdk
from tests.helpers import EMULATOR_PROXY_PORT, GENERATOR_COMMAND, PUBLIC_CA_DIR
from tests.test_emulator_cli import _start, _stop

PROFILE = KnownProfiles.v2020_09_01_hybrid
STATE_JSON = Path(__file__).parent / "fixtures" / "state_json"


def _config(state_dir: Path) -> EmulatorConfig:
    return EmulatorConfig(release="2108", state_dir=str(state_dir), proxy_port=EMULATOR_PROXY_PORT,
                          registration_delay=0.1, public_ca_dir=PUBLIC_CA_DIR)


def _register_storage(resources) -> None:
    resources.providers.register("Microsoft.Storage")
    deadline = time.time() + 10
    while resources.providers.get("Microsoft.Storage").registration_state != "Registered":
        assert time.time() < deadline
        time.sleep(0.1)


def test_what_is_kept_survives_restarts(tmp_path):
    with Emulator(_config(tmp_path)) as emulator:
        info = emulator.info()
        resources = sdk.client(ResourceManagementClient, info, PROFILE)
        _register_storage(resources)
        resources.resource_groups.create_or_update("Kept", {"location": "local", "tags": {"stage": "one"}})
        resources.resource_groups.create_or_update("doomed", {"location": "local"})
        storage = sdk.client(StorageManagementClient, info, PROFILE)
        storage.storage_accounts.begin_create("Kept", "keptdata", {"location": "local", "sku": {"name": "Standard_LRS"},
                                                                   "kind": "Storage"}).result()
        keys = [k.value for k in storage.storage_accounts.list_keys("Kept", "keptdata").keys]
    with Emulator(_config(tmp_path)) as restarted:  # the same Stack: same principal, groups, account and keys
        assert restarted.info()["client_secret"] == info["client_secret"]
        resources = sdk.client(ResourceManagementClient, info, PROFILE)
        assert sorted(g.name for g in resources.resource_groups.list()) == ["Kept", "doomed"]
        assert resources.resource_groups.get("kept").tags == {"stage": "one"}
        storage = sdk.client(StorageManagementClient, info, PROFILE)
        assert [k.value for k in storage.storage_accounts.list_keys("Kept", "keptdata").keys] == keys
        # Day two: change and delete, then restart again.
        resources.resource_groups.create_or_update("Kept", {"location": "local", "tags": {"stage": "two"}})
        resources.resource_groups.begin_delete("doomed").result()
        storage.storage_accounts.regenerate_key("Kept", "keptdata", {"key_name": "key1"})
        keys = [k.value for k in storage.storage_accounts.list_keys("Kept", "keptdata").keys]
    with Emulator(_config(tmp_path)):
        resources = sdk.client(ResourceManagementClient, info, PROFILE)
        assert [g.name for g in resources.resource_groups.list()] == ["Kept"]
        assert resources.resource_groups.get("Kept").tags == {"stage": "two"}
        with pytest.raises(ResourceNotFoundError):
            resources.resource_groups.get("doomed")
        storage = sdk.client(StorageManagementClient, info, PROFILE)
        assert [k.value for k in storage.storage_accounts.list_keys("Kept", "keptdata").keys] == keys


def test_a_state_json_of_an_older_emulator_is_migrated(tmp_path):
    """tests/fixtures/state_json: what the emulator before the store wrote, serving the SDK."""
    shutil.copy(STATE_JSON / "state.json", tmp_path / "state.json")
    with Emulator(_config(tmp_path)) as emulator:
        info = emulator.info()
        assert info["client_secret"] == "not-a-secret-written-for-a-test-fixture"
        resources = sdk.client(ResourceManagementClient, info, PROFILE)
        assert sorted(g.name for g in resources.resource_groups.list()) == ["Kept", "second"]
        assert resources.resource_groups.get("kept").tags == {"owner": "team-a"}
        assert resources.providers.get("Microsoft.Storage").registration_state == "Registered"
        tags = {t.tag_name: [v.tag_value for v in t.values] for t in resources.tags.list()}
        assert tags == {"team": ["a"], "owner": ["team-a"]}
        storage = sdk.client(StorageManagementClient, info, PROFILE)
        assert len(storage.storage_accounts.list_keys("Kept", "keptdata").keys) == 2
        resources.resource_groups.create_or_update("third", {"location": "local"})
    assert not (tmp_path / "state.json").exists() and (tmp_path / "state.json.migrated").exists()
    with Emulator(_config(tmp_path)):  # the migration is done once; the store serves from then on
        resources = sdk.client(ResourceManagementClient, info, PROFILE)
        assert sorted(g.name for g in resources.resource_groups.list()) == ["Kept", "second", "third"]


@pytest.mark.reliability
def test_a_failed_request_keeps_nothing(tmp_path):
    state = EmulatorState(str(tmp_path))
    try:
        with state.transaction():
            state.data["resource_groups"]["kept"] = {"name": "kept", "location": "local", "tags": {"a": "1"}}
            state.data["resource_groups"]["other"] = {"name": "other", "location": "local", "tags": {}}
        with pytest.raises(ArmError), state.transaction():
            # Half of a request's work: a new group, a change in place, a delete, a changed value; then it fails.
            state.data["resource_groups"]["new"] = {"name": "new", "location": "local", "tags": {}}
            state.data["resource_groups"]["kept"]["tags"]["a"] = "2"
            del state.data["resource_groups"]["other"]
            state.data["subscription_tags"]["tags"]["half"] = "done"
            raise ArmError(409, "Conflict", "failed half-way")
        expected = {"kept": {"name": "kept", "location": "local", "tags": {"a": "1"}},
                    "other": {"name": "other", "location": "local", "tags": {}}}
        assert state.data["resource_groups"] == expected and state.data["subscription_tags"] == {"tags": {}}
    finally:
        state.close()
    reopened = EmulatorState(str(tmp_path))
    try:
        assert reopened.data["resource_groups"] == expected
    finally:
        reopened.close()


@pytest.mark.reliability
def test_a_second_emulator_on_a_state_directory_in_use_is_refused(tmp_path):
    state_dir = tmp_path / "state"
    process, info = _start(tmp_path, "--state-dir", str(state_dir))
    try:
        resources = sdk.client(ResourceManagementClient, info, PROFILE)
        resources.resource_groups.create_or_update("first", {"location": "local"})
        second = subprocess.run([*GENERATOR_COMMAND, "emulator", "--state-dir", str(state_dir)], capture_output=True,
                                text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert second.returncode == 1 and "Traceback" not in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
        assert second.stderr.strip().endswith(f"error: the emulator state directory {state_dir} is in use by another "
                                              "emulator; stop that one or give another --state-dir")
        assert resources.resource_groups.get("first").name == "first"  # the first serves on, its state whole
        resources.resource_groups.create_or_update("second", {"location": "local"})
    finally:
        process.send_signal(signal.SIGKILL)  # a crash: what was answered was committed
        process.communicate(timeout=20)
    (tmp_path / "info.json").unlink()
    process, info = _start(tmp_path, "--state-dir", str(state_dir))
    try:
        resources = sdk.client(ResourceManagementClient, info, PROFILE)
        assert sorted(g.name for g in resources.resource_groups.list()) == ["first", "second"]
    finally:
        code, _, err = _stop(process)
    assert code == 0, err


def test_a_state_directory_in_use_is_refused_in_process(tmp_path):
    first = EmulatorState(str(tmp_path))
    try:
        with pytest.raises(EmulatorError, match="is in use by another emulator"):
            EmulatorState(str(tmp_path))
    finally:
        first.close()
    EmulatorState(str(tmp_path)).close()  # released at close


def _median_write(resources, prefix: str, count: int = 15) -> float:
    times = []
    for i in range(count):
        started = time.perf_counter()
        resources.resource_groups.create_or_update(f"{prefix}{i}", {"location": "local", "tags": {"i": str(i)}})
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def test_a_write_costs_the_same_at_ten_resources_and_at_a_hundred_thousand(tmp_path):
    """A resource group's PUT, timed through the SDK (median of 15), with a few resources and with 100,000."""
    with Emulator(_config(tmp_path)) as emulator:
        info = emulator.info()
        resources = sdk.client(ResourceManagementClient, info, PROFILE)
        resources.resource_groups.create_or_update("warm", {"location": "local"})
        few = _median_write(resources, "few")
    # 100,000 resources and 10,000 finished deployments in 1,000 groups, put in the store directly (quick); every
    # request looks for Accepted deployments to run, without reading these.
    state = EmulatorState(str(tmp_path))
    try:
        sub = info["subscription_id"]
        with state.transaction():
            for g in range(1000):
                state.data["resource_groups"][f"bulk{g}"] = {"name": f"bulk{g}", "location": "local", "tags": {}}
                state.data["deployments"][f"bulk{g}"] = {
                    f"d{d}": {"id": f"/subscriptions/{sub}/resourceGroups/bulk{g}/providers/Microsoft.Resources/deployments/d{d}",
                              "name": f"d{d}", "properties": {"provisioningState": "Succeeded", "mode": "Incremental",
                                                              "outputs": {"o": {"type": "String", "value": "x" * 500}}}}
                    for d in range(10)}
                for r in range(100):
                    rid = f"/subscriptions/{sub}/resourceGroups/bulk{g}/providers/Microsoft.Network/virtualNetworks/v{r}"
                    state.data["resources"][rid.lower()] = {
                        "id": rid, "name": f"v{r}", "type": "Microsoft.Network/virtualNetworks", "location": "local",
                        "properties": {"provisioningState": "Succeeded", "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}
    finally:
        state.close()
    with Emulator(_config(tmp_path)):
        resources = sdk.client(ResourceManagementClient, info, PROFILE)
        resources.resource_groups.create_or_update("warm", {"location": "local"})
        many = _median_write(resources, "many")
        assert len(list(resources.resources.list_by_resource_group("bulk7"))) == 100
        assert len(list(resources.deployments.list_by_resource_group("bulk7"))) == 10
    assert many < 3 * few + 0.01, (few, many)


@pytest.mark.reliability
@pytest.mark.parametrize(("name", "content", "message"), [
    ("state.db", b"not a database at all" * 100, "file is not a database; choose a writable --state-dir, or remove this"),
    ("state.json", b"{half a state", "state file {dir}/state.json is corrupt; remove the directory to start afresh"),
])
def test_a_broken_state_is_one_line_and_keeps_no_lock(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    for _ in range(2):  # the first refusal leaves the directory as it was, not locked
        with pytest.raises(EmulatorError) as refused:
            EmulatorState(str(tmp_path))
        assert message.format(dir=tmp_path) in str(refused.value) and "\n" not in str(refused.value)


def test_every_section_of_the_state_has_one_owner():
    owners = section_owners()
    assert set(owners) == set(StateData.__annotations__)
    assert owners["resources"] == "arm_core.Arm" and owners["locks"] == "services.locks"
    assert owners["tenant_id"] == "state.EmulatorState" and owners["blob_accounts"] == "services.blob"


def test_every_service_is_registered():
    """A service class in azs_emulator/services/ that no line of the registry names would never serve."""
    package = Path(registry.__file__).parent
    declared = set()
    for module_file in package.glob("*.py"):
        module = importlib.import_module(f"azs_emulator.services.{module_file.stem}")
        declared |= {name for name, value in vars(module).items()
                     if name.endswith("Service") and inspect.isclass(value) and value.__module__ == module.__name__
                     and callable(getattr(value, "routes", None))}
    built = {type(service).__name__ for service in _services_of_an_emulator()}
    assert declared == built
    assert [r.name for r in registry.REGISTRY if r.routes_last] == ["provider_resources"]


def _services_of_an_emulator() -> list:
    with Emulator(EmulatorConfig(layout="loopback", single_host=True)) as emulator:
        return list(registry.Services(emulator.arm).by_name.values())
