"""The emulator answers under a Stack's own names, reached through its HTTPS proxy, as clients reach a Stack
behind a corporate proxy; the proxy tunnels those names only."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from azure.mgmt.storage import StorageManagementClient
from azure.profiles import KnownProfiles

from tests import sdk
from tests.helpers import GENERATOR_COMMAND, without_emulator_proxy


def _urls(value: object) -> list[str]:
    if isinstance(value, str):
        return [value] if value.startswith("https://") else []
    if isinstance(value, dict):
        return [u for v in value.values() for u in _urls(v)]
    if isinstance(value, list):
        return [u for v in value for u in _urls(v)]
    return []


@pytest.mark.parametrize("identity", ["azure_ad", "adfs"])
def test_a_stack_is_named_as_an_asdk_is(start_emulator, identity):
    info = start_emulator(identity_system=identity).info()
    assert info["layout"] == "names"
    assert info["arm_endpoint"] == "https://management.local.azurestack.external/"
    assert info["admin_endpoint"] == "https://adminmanagement.local.azurestack.external/"
    sign_in = "https://adfs.local.azurestack.external/adfs/" if identity == "adfs" else "https://login.microsoftonline.com/"
    assert info["identity_endpoint"] == sign_in
    for admin in (False, True):
        endpoint = info["admin_endpoint" if admin else "arm_endpoint"]
        for version in ("2015-01-01", "2019-05-01"):
            body = requests.get(f"{endpoint}metadata/endpoints?api-version={version}", verify=info["ca_cert"], timeout=10).json()
            # No port in any URL the metadata names, as on a Stack.
            assert all(re.fullmatch(r"https://[a-z0-9.-]+(/.*)?", url) for url in _urls(body)), body
        assert body[0]["suffixes"] == {"keyVaultDns": "vault.local.azurestack.external", "storage": "local.azurestack.external"}
        assert body[0]["authentication"]["loginEndpoint"].rstrip("/") == sign_in.rstrip("/")


def test_region_and_fqdn_name_every_host(start_emulator):
    info = start_emulator(region="east", fqdn="contoso.example").info()
    assert info["arm_endpoint"] == "https://management.east.contoso.example/" and info["location"] == "east"
    assert info["keyvault_dns_suffix"] == "vault.east.contoso.example" and info["storage_suffix"] == "east.contoso.example"
    profile = KnownProfiles.v2020_09_01_hybrid
    from azure.mgmt.resource import ResourceManagementClient

    resources = sdk.client(ResourceManagementClient, info, profile)
    resources.providers.register("Microsoft.Storage")
    resources.resource_groups.create_or_update("rg", {"location": "east"})
    import time

    time.sleep(0.3)
    storage = sdk.client(StorageManagementClient, info, profile)
    account = storage.storage_accounts.begin_create("rg", "acct1", {"location": "east", "sku": {"name": "Standard_LRS"},
                                                                      "kind": "Storage"}).result()
    assert account.primary_endpoints.blob == "https://acct1.blob.east.contoso.example/"


def _connect(proxy: str, line: str) -> bytes:
    host, port = proxy.split("://", 1)[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(line.encode() + b"\r\n\r\n")
        answer = b""
        while True:
            chunk = raw.recv(4096)
            if not chunk:
                return answer
            answer += chunk


def test_the_proxy_refuses_every_host_it_does_not_serve(emulator):
    proxy = emulator.info()["https_proxy"]
    for target in ("pypi.org:443", "management.local.azurestack.external:8443", "127.0.0.1:443"):
        answer = _connect(proxy, f"CONNECT {target} HTTP/1.1\r\nHost: {target}")
        assert answer.startswith(b"HTTP/1.1 403 Forbidden"), answer
        assert b"is not a host of this emulated Stack" in answer and b"relays nowhere else" in answer
    plain = _connect(proxy, "GET http://example.com/ HTTP/1.1\r\nHost: example.com")
    assert plain.startswith(b"HTTP/1.1 405") and b"HTTPS_PROXY" in plain
    # Through requests, as a client meets it: a proxy error, never a relayed answer.
    with pytest.raises(requests.exceptions.ProxyError, match="403 Forbidden"):
        requests.get("https://pypi.org/simple/", timeout=10)


def test_a_client_that_does_not_use_the_proxy_fails_clearly(emulator):
    info = emulator.info()
    direct = requests.Session()
    direct.trust_env = False  # no HTTPS_PROXY: the Stack's names do not resolve on this machine
    with pytest.raises(requests.exceptions.ConnectionError, match="NameResolutionError|Name or service not known|resolve"):
        direct.get(f"{info['arm_endpoint']}metadata/endpoints?api-version=1.0", verify=info["ca_cert"], timeout=10)
    result = subprocess.run([*GENERATOR_COMMAND, "discover", "--arm-endpoint", info["arm_endpoint"],
                             "--root-ca", info["ca_cert"]], capture_output=True, text=True, timeout=120,
                            env=without_emulator_proxy())
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "cannot resolve host management.local.azurestack.external" in result.stderr


def test_the_loopback_layout_serves_at_ports_without_a_proxy(start_emulator):
    info = start_emulator(layout="loopback").info()
    assert info["https_proxy"] is None and re.fullmatch(r"https://127\.0\.0\.1:\d+/", info["arm_endpoint"])
    direct = requests.Session()
    direct.trust_env = False
    assert direct.get(f"{info['arm_endpoint']}metadata/endpoints?api-version=1.0", verify=info["ca_cert"], timeout=10).ok
    assert direct.get(f"{info['admin_endpoint']}metadata/endpoints?api-version=1.0", verify=info["ca_cert"], timeout=10).ok


def _venv_with_certifi(tmp_path: Path) -> tuple[str, Path]:
    """A venv with certifi as the index serves it, trusting no stand-in yet."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "certifi"], check=True, env=without_emulator_proxy(), timeout=300)
    bundle = subprocess.run([python, "-c", "import certifi; print(certifi.where())"], capture_output=True, text=True,
                            check=True).stdout.strip()
    return python, Path(bundle)


@pytest.mark.slow
def test_emulator_trust_replaces_the_venvs_bundle_and_touches_nothing_else(start_emulator, tmp_path):
    info = start_emulator().info()
    info_file = tmp_path / "info.json"
    info_file.write_text(json.dumps(info))
    python, bundle = _venv_with_certifi(tmp_path)
    elsewhere = tmp_path / "cache-copy.pem"
    os.link(bundle, elsewhere)  # as uv hard-links the bundle from its cache
    before = elsewhere.read_bytes()

    def trust() -> subprocess.CompletedProcess:
        return subprocess.run([*GENERATOR_COMMAND, "emulator", "trust", "--python", python, "--info-file",
                               str(info_file)], capture_output=True, text=True, timeout=120)

    first = trust()
    assert first.returncode == 0 and "now trusts" in first.stdout, first.stderr
    stand_in = Path(info["identity_ca_cert"]).read_bytes().strip()
    assert stand_in in bundle.read_bytes() and bundle.read_bytes().startswith(before.rstrip(b"\n"))
    assert elsewhere.read_bytes() == before  # replaced, not appended: the hard-linked file is untouched
    again = trust()
    assert again.returncode == 0 and "already trusts" in again.stdout
    assert bundle.read_bytes().count(stand_in) == 1
    # The venv now signs in at the emulator's Azure AD as a real certifi does at login.microsoftonline.com.
    openid = f"{info['identity_endpoint']}{info['tenant_id']}/v2.0/.well-known/openid-configuration"
    fetch = ("import ssl, sys, urllib.request, certifi; context = ssl.create_default_context(cafile=certifi.where()); "
             "print(urllib.request.urlopen(sys.argv[1], context=context, timeout=10).status)")
    check = subprocess.run([python, "-c", fetch, openid], capture_output=True, text=True, timeout=60)
    assert check.stdout.strip() == "200", check.stderr


def test_emulator_trust_errors_are_one_line(start_emulator, tmp_path):
    info = start_emulator(identity_system="adfs").info()
    info_file = tmp_path / "info.json"
    info_file.write_text(json.dumps(info))
    adfs = subprocess.run([*GENERATOR_COMMAND, "emulator", "trust", "--python", sys.executable, "--info-file",
                           str(info_file)], capture_output=True, text=True, timeout=120)
    assert adfs.returncode == 0 and "Nothing to trust" in adfs.stdout
    for args, words in ((["--info-file", str(info_file)], "needs --python"),
                        (["--python", str(tmp_path / "nope"), "--stand-in-ca", info["ca_cert"]], "cannot run it"),
                        (["--python", sys.executable, "--info-file", str(tmp_path / "missing.json")], "no such file")):
        result = subprocess.run([*GENERATOR_COMMAND, "emulator", "trust", *args], capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 2 and words in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.reliability
def test_r195_an_emulator_on_ipv6_loopback_names_its_proxy_in_brackets(start_emulator):
    import requests

    info = start_emulator(host="::1").info()
    assert info["https_proxy"].startswith("http://[::1]:"), info["https_proxy"]
    answer = requests.get(info["arm_endpoint"] + "metadata/endpoints?api-version=2019-05-01",
                          proxies={"https": info["https_proxy"]}, verify=info["ca_cert"], timeout=60)
    assert answer.status_code == 200 and "authentication" in answer.json()[0]  # 2019-05-01 answers a list of clouds
