"""``azs-scaffold emulator`` as a user runs it: a background process, an info file, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import EMULATOR_PROXY_PORT, GENERATOR_COMMAND

INFO_KEYS = {
    "arm_endpoint", "admin_endpoint", "root_ca", "ca_cert", "client_id", "client_secret", "tenant_id", "tenant_domain",
    "subscription_id", "location", "release", "stack_version", "identity_system", "identity_endpoint", "identity_ca_cert",
    "public_ca_bundle", "keyvault_ca_cert", "keyvault_dns_suffix", "storage_suffix", "layout", "https_proxy",
}
RELEASES = ["2008", "2102", "2108", "2206", "2301", "2306", "2311", "2406", "2408", "2501", "2506"]


def _start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, dict]:
    info_file = tmp_path / "info.json"
    process = subprocess.Popen(
        # On the session's proxy port, where this process and the commands it starts reach the emulators.
        [*GENERATOR_COMMAND, "emulator", "--info-file", str(info_file), "--proxy-port", str(EMULATOR_PROXY_PORT), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.time() + 20
    while not info_file.exists():
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            raise AssertionError(f"emulator did not start: {process.communicate()}")
        time.sleep(0.05)
    return process, json.loads(info_file.read_text())


def _stop(process: subprocess.Popen, sig: int = signal.SIGINT) -> tuple[int, str, str]:
    process.send_signal(sig)
    out, err = process.communicate(timeout=20)
    return process.returncode, out, err


@pytest.mark.parametrize("identity", ["azure_ad", "adfs"])
@pytest.mark.parametrize("release", RELEASES)
def test_background_emulator_answers_metadata_for_every_release(tmp_path, release, identity):
    process, info = _start(tmp_path, "--release", release, "--identity-system", identity)
    try:
        assert set(info) == INFO_KEYS
        assert info["release"] == release and info["identity_system"] == identity
        assert stat.S_IMODE(os.stat(tmp_path / "info.json").st_mode) == 0o600
        body = requests.get(f"{info['arm_endpoint']}metadata/endpoints?api-version=2015-01-01", verify=info["ca_cert"], timeout=10).json()
        assert body["authentication"]["loginEndpoint"].rstrip("/").endswith("/adfs") == (identity == "adfs")
    finally:
        code, out, err = _stop(process)
    assert code == 0, err
    assert "Traceback" not in err and info["client_secret"] not in out + err
    assert "listening" in out and info["arm_endpoint"] in out


def test_sigterm_stops_cleanly(tmp_path):
    process, _ = _start(tmp_path)
    code, _, err = _stop(process, signal.SIGTERM)
    assert code == 0 and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "0.0.0.0"], "refusing to listen on 0.0.0.0"),
        (["--release", "1808"], "unknown --release '1808'"),
        (["--release", "azure", "--identity-system", "adfs"], "global Azure uses Azure AD"),
    ],
)
def test_bad_options_end_in_one_line(args, message):
    result = subprocess.run([*GENERATOR_COMMAND, "emulator", *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize("option", ["--port", "--proxy-port"])
def test_port_in_use_is_one_line(tmp_path, option):
    process, info = _start(tmp_path, "--layout", "loopback") if option == "--port" else _start(tmp_path)
    try:
        port = (info["arm_endpoint"] if option == "--port" else info["https_proxy"]).rsplit(":", 1)[1].strip("/")
        result = subprocess.run([*GENERATOR_COMMAND, "emulator", option, port], capture_output=True, text=True, timeout=30)
    finally:
        _stop(process)
    assert result.returncode == 1 and "cannot listen on 127.0.0.1:" in result.stderr and f"choose another {option}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
