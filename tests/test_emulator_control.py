"""One line to point a shell or a command at the emulator: ``emulator env``, ``emulator --detach`` / ``stop``, and
``discover`` / ``new`` / ``doctor --emulator F`` - with the machine's own trust variables left as they are."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import certifi
import pytest
import requests

from tests.helpers import EMULATOR_PROXY_PORT, cli, one_error


def _corporate_env(**extra: str) -> dict[str, str]:
    """A workstation's environment: its own CA bundle (certifi's here, which knows nothing of the emulator), no proxy."""
    env = {k: v for k, v in os.environ.items() if k.upper() not in ("HTTPS_PROXY", "NO_PROXY")}
    env.update(REQUESTS_CA_BUNDLE=certifi.where(), SSL_CERT_FILE=certifi.where(), CURL_CA_BUNDLE=certifi.where(), **extra)
    return env


def test_env_prints_the_proxy_and_a_no_proxy_that_spares_the_index_and_nothing_of_trust(emulator, tmp_path):
    info_file = tmp_path / "info.json"
    emulator.write_info(info_file)
    env = _corporate_env(PIP_INDEX_URL="https://mirror.example.invalid/simple", NO_PROXY="intranet.example.invalid")
    code, out, err = cli("emulator", "env", "--info-file", str(info_file), base_env=env)
    assert code == 0, err
    assert f"export HTTPS_PROXY=http://127.0.0.1:{EMULATOR_PROXY_PORT}" in out.splitlines()
    no_proxy = next(line for line in out.splitlines() if line.startswith("export NO_PROXY=")).split("=", 1)[1].split(",")
    for host in ("intranet.example.invalid", "127.0.0.1", "localhost", "pypi.org", "files.pythonhosted.org",
                 "mirror.example.invalid"):
        assert host in no_proxy
    assert "CA_BUNDLE" not in out and "SSL_CERT" not in out and emulator.info()["client_secret"] not in out
    # The exports work as printed: a shell that evaluates them reaches the Stack's names.
    script = ('eval "$1"; python -c "import requests,sys; print(requests.get(sys.argv[1], verify=sys.argv[2], '
              'timeout=10).status_code)" "$2" "$3"')
    url = emulator.info()["arm_endpoint"] + "metadata/endpoints?api-version=2015-01-01"
    shell = subprocess.run(["sh", "-c", script, "sh", out, url, emulator.info()["ca_cert"]], capture_output=True, text=True,
                           env=env, timeout=60)
    assert shell.stdout.strip() == "200", shell.stderr
    code, out, _ = cli("emulator", "env", "--info-file", str(info_file), "--shell", "powershell", base_env=env)
    assert code == 0 and f"$env:HTTPS_PROXY = 'http://127.0.0.1:{EMULATOR_PROXY_PORT}'" in out


@pytest.mark.reliability
def test_detach_serves_in_the_background_until_stop_and_again_after(tmp_path):
    state = tmp_path / "state"
    env = _corporate_env()
    args = ("emulator", "--detach", "--state-dir", str(state), "--proxy-port", str(EMULATOR_PROXY_PORT))
    code, out, err = cli(*args, base_env=env, timeout=120)
    assert code == 0, err
    info = json.loads((state / "info.json").read_text())
    assert oct((state / "info.json").stat().st_mode & 0o777) == "0o600"
    pid = int((state / "emulator.pid").read_text())
    try:
        assert f"pid {pid}" in out and info["client_secret"] not in out + err
        proxies = {"https": info["https_proxy"]}
        url = info["arm_endpoint"] + "metadata/endpoints?api-version=2015-01-01"
        assert requests.get(url, verify=info["ca_cert"], proxies=proxies, timeout=10).ok
        one_error(*cli(*args, base_env=env)[::2], f"an emulator (pid {pid}) already serves")
        code, out, err = cli("emulator", "stop", "--state-dir", str(state), base_env=env)
        assert code == 0 and f"Stopped the emulator (pid {pid})" in out, err
        assert not (state / "emulator.pid").exists()
        code, out, _ = cli("emulator", "stop", "--state-dir", str(state), base_env=env)
        assert code == 0 and "No emulator" in out
        # Day two: started again on the same state, it keeps its credentials and proxy.
        code, _, err = cli(*args, base_env=env, timeout=120)
        assert code == 0, err
        again = json.loads((state / "info.json").read_text())
        assert (again["client_id"], again["https_proxy"]) == (info["client_id"], info["https_proxy"])
        assert requests.get(url, verify=again["ca_cert"], proxies=proxies, timeout=10).ok
    finally:
        cli("emulator", "stop", "--state-dir", str(state), base_env=env)


@pytest.mark.reliability
def test_commands_take_the_stack_from_the_info_file_with_the_machines_trust_left_set(emulator, tmp_path):
    info_file = tmp_path / "info.json"
    emulator.write_info(info_file)
    env = _corporate_env()
    code, out, err = cli("discover", "--emulator", str(info_file), "--json", base_env=env)
    assert code == 0, err
    found = json.loads(out)
    assert found["resource_manager"].rstrip("/") == emulator.info()["arm_endpoint"].rstrip("/")
    assert found["roles"], "signed in as the info file's service principal, its roles are read"
    assert emulator.info()["client_secret"] not in out + err
    project = tmp_path / "project"
    code, out, err = cli("new", str(project), "--emulator", str(info_file), "--non-interactive", base_env=env, timeout=300)
    assert code == 0, err
    assert emulator.info()["client_secret"] not in out + err
    sp_file = project / "azureSecretSpConfig.json"
    assert json.loads(sp_file.read_text())["clientId"] == emulator.info()["client_id"]
    assert oct(sp_file.stat().st_mode & 0o777) == "0o600"
    code, out, err = cli("doctor", str(project), "--emulator", str(info_file), "--json", base_env=env, timeout=300)
    assert "Traceback" not in err and emulator.info()["client_secret"] not in out + err
    findings = json.loads(out)["findings"]
    assert not [f for f in findings if f["severity"] == "error"], findings
    # The info file is read as any user's file is: a directory is refused in one line.
    one_error(*cli("discover", "--emulator", str(tmp_path), base_env=env)[::2], "emulator info file")
    assert Path(info_file).exists()


@pytest.mark.reliability
def test_r273_two_detaches_at_once_on_one_state_dir_start_exactly_one(tmp_path):
    """Two ``emulator --detach`` on one state directory at the same moment, three times over: one serves, the other is
    refused in one line (another launch is starting it, or it serves already); never both refused, never two."""
    import concurrent.futures

    state = tmp_path / "state"
    env = _corporate_env()
    args = ("emulator", "--detach", "--layout", "loopback", "--single-host", "--state-dir", str(state))
    assert cli(*args, base_env=env, timeout=120)[0] == 0
    assert cli("emulator", "stop", "--state-dir", str(state), base_env=env)[0] == 0
    for _ in range(3):
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda _: cli(*args, base_env=env, timeout=120), range(2)))
        try:
            assert sorted(code == 0 for code, _, _ in results) == [False, True], results
            code, _, err = next(result for result in results if result[0] != 0)
            said = one_error(code, err, "")
            assert any(reason in said for reason in ("another azs-scaffold is starting an emulator", "already serves",
                                                     "is in use by another emulator")), said
            info = json.loads((state / "info.json").read_text())
            url = info["arm_endpoint"] + "metadata/endpoints?api-version=2015-01-01"
            assert requests.get(url, verify=info["ca_cert"], timeout=10).ok
        finally:
            code, out, err = cli("emulator", "stop", "--state-dir", str(state), base_env=env)
        assert code == 0 and "Stopped the emulator" in out, out + err
