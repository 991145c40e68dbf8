"""The service principal's secret at every moment, and whole results or none under signals and races.

Each test is a case of docs/reliability.md (R56-R66). The emulators run the real topology: Resource
Manager under the Stack's CA, Azure AD sign-in on a host of its own under a CA standing in for a public one.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers import GENERATOR_COMMAND, SP_FILE, ModeWatcher, cli, discover, new_args, one_error, set_faults, with_credentials

pytestmark = pytest.mark.reliability


def _spawn(args: list[str], env: dict, **extra) -> subprocess.Popen:
    return subprocess.Popen([*GENERATOR_COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **env, **extra.pop("more_env", {})}, stdin=subprocess.DEVNULL, **extra)


def test_r56_the_secret_file_is_never_readable_by_others(emulator, template_repo, tmp_path):
    info = emulator.info()
    args, env = new_args(info, tmp_path / "out" / "project", "--template", str(template_repo))
    with ModeWatcher(tmp_path, info["client_secret"]) as watcher:
        code, _, err = cli(*args, env=env, timeout=300)
    assert code == 0, err
    assert watcher.sightings and not watcher.exposed, watcher.exposed
    assert stat.S_IMODE((tmp_path / "out" / "project" / SP_FILE).stat().st_mode) == 0o600


def test_r57_batch_secret_files_are_never_readable_by_others(emulator, template_repo, tmp_path):
    info = emulator.info()
    teams = {"defaults": {"arm_endpoint": info["arm_endpoint"], "ca_cert": info["ca_cert"], "client_id": info["client_id"],
                          "client_secret_env": "AZS_R_SECRET", "samples": ["resource_groups"]},
             "teams": [{"project_name": f"team-{n}"} for n in range(3)]}
    (tmp_path / "teams.yaml").write_text(yaml.safe_dump(teams))
    with ModeWatcher(tmp_path, info["client_secret"]) as watcher:
        code, out, err = cli("new", "--batch", str(tmp_path / "teams.yaml"), str(tmp_path / "out"), "--template",
                             str(template_repo), env={"AZS_R_SECRET": info["client_secret"]}, timeout=300)
    assert code == 0, out + err
    assert watcher.sightings and not watcher.exposed, watcher.exposed


def _echoing_identity(info: dict) -> None:
    """The identity server quotes the secret it was sent back in its error (as some do)."""
    body = json.dumps({"error": "invalid_client",
                       "error_description": f"AADSTS7000215: Invalid client secret provided: '{info['client_secret']}'."})
    set_faults(info, replace=50, replace_status=401, replace_body=body, path="oauth2")


def test_r58_a_secret_echoed_by_the_identity_server_is_redacted(emulator, tmp_path):
    info = emulator.info()
    _echoing_identity(info)
    args, env = with_credentials(info)
    code, out, err = discover(info, *args, env=env)
    line = one_error(code, err, "sign-in at")
    assert "[redacted]" in line and "check the client id" in line
    assert info["client_secret"] not in out + err


def test_r59_batch_redacts_an_echoed_secret_in_its_table(emulator, template_repo, tmp_path):
    info = emulator.info()
    teams = {"defaults": {"arm_endpoint": info["arm_endpoint"], "ca_cert": info["ca_cert"], "client_id": info["client_id"],
                          "client_secret_env": "AZS_R_SECRET"},
             "teams": [{"project_name": "team-a"}]}
    (tmp_path / "teams.yaml").write_text(yaml.safe_dump(teams))
    _echoing_identity(info)
    code, out, err = cli("new", "--batch", str(tmp_path / "teams.yaml"), str(tmp_path / "out"), "--template",
                         str(template_repo), env={"AZS_R_SECRET": info["client_secret"]}, timeout=300)
    assert code == 1 and "[redacted]" in out
    assert info["client_secret"] not in out + err


def test_r60_a_ca_file_with_a_private_key_is_refused(emulator, tmp_path):
    info = emulator.info()
    mixed = tmp_path / "root-and-key.pem"
    mixed.write_text(Path(info["ca_cert"]).read_text() + "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n")
    code, _, err = cli("discover", "--arm-endpoint", info["arm_endpoint"], "--root-ca", str(mixed))
    one_error(code, err, "also holds a private key (PRIVATE KEY); give a file with the CA certificate only")


def test_r61_a_huge_or_directory_ca_file_is_refused(emulator, tmp_path):
    info = emulator.info()
    huge = tmp_path / "huge.pem"
    huge.write_text(Path(info["ca_cert"]).read_text() * 2000)
    one_error(*cli("discover", "--arm-endpoint", info["arm_endpoint"], "--root-ca", str(huge))[::2], "over the 1024 kB a CA file may have")
    one_error(*cli("discover", "--arm-endpoint", info["arm_endpoint"], "--root-ca", str(tmp_path))[::2], "is a directory")


def test_r62_an_endpoint_with_credentials_is_refused_unechoed(tmp_path):
    code, out, err = cli("discover", "--arm-endpoint", "https://admin:hunter2secret@management.local.azurestack.external")
    one_error(code, err, "carries a user name or password")
    assert "hunter2secret" not in out + err


def test_r63_sign_in_host_untrusted_is_a_tls_error_not_a_credentials_error(emulator):
    """Only certifi, without the public stand-in: the sign-in host's certificate is not trusted, and says so."""
    import certifi

    info = emulator.info()
    args, env = with_credentials(info)
    code, out, err = discover(info, *args, env={**env, "REQUESTS_CA_BUNDLE": certifi.where()})
    line = one_error(code, err, "its TLS certificate is not trusted")
    assert "check the client id" not in line


def test_r64_where_the_secret_goes_is_said_before(emulator):
    info = emulator.info()
    args, env = with_credentials(info)
    code, _, err = discover(info, *args, env=env)
    assert code == 0, err
    said = [line for line in err.splitlines() if "Signing in as" in line]
    assert said and info["identity_endpoint"].rstrip("/") in said[0] and "another host than the Resource Manager" in said[0]


@pytest.mark.parametrize(("moment", "delay"), [("Reading metadata", 0.2), ("Rendering the project", 0.0),
                                              ("Rendering the project", 0.15), ("Rendering the project", 0.4)])
def test_r65_sigterm_during_new_leaves_all_or_nothing(emulator, template_repo, tmp_path, moment, delay):
    """SIGTERM in discovery, and at several moments of the rendering: the whole project, or nothing at all
    (no staging folder beside it, nothing of copier's in the temporary directory)."""
    info = emulator.info()
    set_faults(info, latency=0.1)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    destination = tmp_path / "project"
    args, env = new_args(info, destination, "--template", str(template_repo))
    process = _spawn(args, env, more_env={"TMPDIR": str(scratch)})
    seen = ""
    while moment not in seen:
        line = process.stderr.readline()
        assert line, f"the run ended before {moment!r}: {seen}"
        seen += line
    time.sleep(delay)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    err = seen + err
    assert "Traceback" not in err, err
    if process.returncode == 0:  # it finished first: the whole project
        assert (destination / ".copier-answers.yml").exists() and (destination / SP_FILE).exists()
    else:
        assert process.returncode == 130 and "interrupted" in err, err
        assert not destination.exists()
    assert not [p.name for p in tmp_path.iterdir() if ".partial-" in p.name]
    assert not list(scratch.iterdir()), list(scratch.iterdir())


def test_r66_two_runs_into_one_destination_one_wins_and_the_other_refuses(emulator, template_repo, tmp_path):
    info = emulator.info()
    destination = tmp_path / "shared"
    destination.mkdir()
    runs = [_spawn(*new_args(info, destination, "--template", str(template_repo))) for _ in range(2)]
    results = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    codes = sorted(code for code, _ in results)
    assert codes[0] == 0, results
    if codes[1] != 0:  # the loser refused in one line (the second may also start after the first finished)
        loser = next(err for code, err in results if code != 0)
        assert "Traceback" not in loser and ("filled by another run" in loser or "is not empty" in loser), loser
    assert (destination / SP_FILE).exists() and (destination / "samples").is_dir()
    assert json.loads((destination / SP_FILE).read_text())["clientSecret"] == info["client_secret"]
    assert not [p.name for p in tmp_path.iterdir() if ".partial-" in p.name]
