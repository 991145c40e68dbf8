"""Microsoft's JavaScript SDK for Stacks judges the emulator: its 2020-09-01-hybrid profile packages, installed from
the npm registry and set up as Microsoft documents, run a Stack user's resource group, Key Vault (management and
data plane, challenge verification on), role and vault-secret steps on 2108 + Azure AD and 2108 + ADFS."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from tests.helpers import without_emulator_proxy

pytestmark = [pytest.mark.external, pytest.mark.slow]
JUDGE = Path(__file__).resolve().parent / "js"


@pytest.fixture(scope="session")
def judge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/js with its pinned packages installed, outside the checkout."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not on PATH: the JavaScript SDK cannot run here")
    folder = tmp_path_factory.mktemp("js-judge")
    for name in ("package.json", "judge.mjs"):
        shutil.copy2(JUDGE / name, folder / name)
    # The registry is reached through the machine's own route, never the emulator's proxy.
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder, check=True, timeout=600,
                   env=without_emulator_proxy())
    return folder


@pytest.mark.parametrize("identity", ["azure_ad", "adfs"])
def test_the_javascript_sdk_runs_a_stack_users_steps(start_emulator, judge, tmp_path, identity):
    info = start_emulator(identity_system=identity).info()
    info_file = tmp_path / "info.json"
    info_file.write_text(json.dumps(info))
    trust = tmp_path / "trust.pem"  # Node's own CAs plus the Stack's root (and, for Azure AD, the stand-in public CA)
    trust.write_bytes(Path(info["ca_cert"]).read_bytes() + Path(info["identity_ca_cert"]).read_bytes())
    audience = requests.get(f"{info['arm_endpoint']}metadata/endpoints?api-version=2015-01-01", verify=info["ca_cert"],
                            timeout=10).json()["authentication"]["audiences"][0]
    env = {**os.environ, "HTTPS_PROXY": info["https_proxy"], "NODE_EXTRA_CA_CERTS": str(trust)}
    result = subprocess.run(["node", "judge.mjs", str(info_file), audience], cwd=judge, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    steps = dict(line.split(": ", 1) for line in result.stdout.strip().splitlines())
    assert steps["vaultUri"] == "https://jskv1.vault.local.azurestack.external/"
    assert steps["secret get"] == "ok" and steps["secret list"] == "s1"
    assert steps["role definitions"] == "Owner,Contributor,Reader,User Access Administrator"
    assert steps["role assignments"] == "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
    assert steps["permissions"] == "*"
    assert steps["arm secret"] == "https://jskv1.vault.local.azurestack.external/secrets/s2 no value"
    assert steps["done"] == "ok"
