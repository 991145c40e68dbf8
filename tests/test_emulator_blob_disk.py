"""Blob content on disk, streamed: 256 MiB of blobs through a separate emulator process (as a team's CI runs it),
uploaded and read back intact by the real azure-storage-blob and a plain streamed GET, with the emulator's peak
resident memory measured (issue 35's target: <= 400 MB; it kept blobs as base64 in its state and peaked at 1.1 GB),
then kept across a restart and freed on delete."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from azure.mgmt.resource import ResourceManagementClient
from azure.mgmt.storage import StorageManagementClient
from azure.storage.blob import BlobClient, BlobSasPermissions, ContainerClient, generate_blob_sas

from generator import catalog
from tests import sdk
from tests.helpers import EMULATOR_PROXY_PORT, GENERATOR_COMMAND

MiB = 1 << 20
PEAK_RSS_LIMIT = 400 * MiB
VERSION = catalog.STORAGE_DATA_API_VERSION


def _start(state: Path, info_file: Path) -> subprocess.Popen:
    info_file.unlink(missing_ok=True)
    process = subprocess.Popen([*GENERATOR_COMMAND, "emulator", "--identity-system", "adfs", "--state-dir", str(state),
                                "--info-file", str(info_file), "--proxy-port", str(EMULATOR_PROXY_PORT),
                                "--registration-delay", "0.2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not info_file.exists():
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            raise AssertionError(f"emulator did not start: {process.communicate()}")
        time.sleep(0.1)
    return process


def _stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return err


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _random_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "wb") as file:
        for _ in range(size // MiB):
            piece = os.urandom(MiB)
            digest.update(piece)
            file.write(piece)
    return digest.hexdigest()


class _Hashing:
    """A writable that only hashes what it is given (the SDK's readinto target)."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return len(data)


def _content_bytes(state: Path) -> int:
    return sum(f.stat().st_size for f in (state / "blobs").rglob("*") if f.is_file())


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the emulator's peak memory from /proc")
def test_256_mib_of_blobs_round_trip_within_400_mb_and_survive_a_restart(tmp_path):
    state, info_file = tmp_path / "state", tmp_path / "info.json"
    big, small = tmp_path / "big.bin", tmp_path / "small.bin"
    big_sha, small_sha = _random_file(big, 192 * MiB), _random_file(small, 64 * MiB)
    process = _start(state, info_file)
    try:
        info = json.loads(info_file.read_text())
        resources = sdk.client(ResourceManagementClient, info, sdk.PROFILE_OF_RELEASE["2108"])
        resources.providers.register("Microsoft.Storage")
        resources.resource_groups.create_or_update("rg", {"location": "local"})
        time.sleep(0.5)
        storage = sdk.client(StorageManagementClient, info, sdk.PROFILE_OF_RELEASE["2108"])
        account = storage.storage_accounts.begin_create("rg", "bulk1", {"location": "local", "sku": {"name": "Standard_LRS"},
                                                                        "kind": "Storage"}).result()
        key = storage.storage_accounts.list_keys("rg", "bulk1").keys[0].value
        endpoint = account.primary_endpoints.blob
        credential = {"account_name": "bulk1", "account_key": key}

        def blob(name: str, **options) -> BlobClient:
            return BlobClient(endpoint, "bulk", name, credential=credential, api_version=VERSION,
                              connection_verify=info["ca_cert"], **options)

        ContainerClient(endpoint, "bulk", credential=credential, api_version=VERSION, connection_verify=info["ca_cert"]).create_container()
        started = time.time()
        # 192 MiB as six 32 MiB blocks (each spooled to disk as it arrives) and a block list; 64 MiB as one Put Blob.
        with open(big, "rb") as data:
            blob("big.bin", max_block_size=32 * MiB, max_single_put_size=32 * MiB).upload_blob(data, length=192 * MiB)
        with open(small, "rb") as data:
            blob("small.bin").upload_blob(data, length=64 * MiB)
        uploaded = time.time()
        # The big one back in one streamed GET (a read SAS), the small one through the SDK's ranged download.
        sas = generate_blob_sas("bulk1", "bulk", "big.bin", account_key=key, permission=BlobSasPermissions(read=True),
                                expiry=dt.datetime.utcnow() + dt.timedelta(hours=1))
        got = hashlib.sha256()
        with requests.get(f"{endpoint}bulk/big.bin?{sas}", verify=info["ca_cert"], stream=True, timeout=120) as answer:
            assert answer.status_code == 200 and answer.headers["Content-Length"] == str(192 * MiB)
            for piece in answer.iter_content(MiB):
                got.update(piece)
        assert got.hexdigest() == big_sha
        sink = _Hashing()
        blob("small.bin").download_blob().readinto(sink)
        assert sink.size == 64 * MiB and sink.digest.hexdigest() == small_sha
        read = time.time()
        peak = _peak_rss(process.pid)
        print(f"\n256 MiB up {uploaded - started:.1f} s, back {read - uploaded:.1f} s; emulator peak RSS {peak / MiB:.0f} MiB")
        assert peak <= PEAK_RSS_LIMIT, f"peak resident memory {peak / MiB:.0f} MiB"
        # The bytes are on disk, under the state directory, not in the state.
        assert _content_bytes(state) >= 256 * MiB
        assert all(f.stat().st_size < MiB for f in state.iterdir() if f.is_file())
    finally:
        _stop(process)

    # Day two: the same state directory after a restart still holds both; a delete frees the disk.
    process = _start(state, info_file)
    try:
        info = json.loads(info_file.read_text())
        small_blob = BlobClient(endpoint, "bulk", "small.bin", credential=credential, api_version=VERSION,
                                connection_verify=info["ca_cert"])
        with open(small, "rb") as data:
            data.seek(5 * MiB)
            assert small_blob.download_blob(offset=5 * MiB, length=MiB).readall() == data.read(MiB)
        BlobClient(endpoint, "bulk", "big.bin", credential=credential, api_version=VERSION,
                   connection_verify=info["ca_cert"]).delete_blob()
        assert _content_bytes(state) < 65 * MiB
    finally:
        _stop(process)
