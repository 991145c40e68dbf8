"""Round 3 of bad input and misuse (docs/reliability.md R93 onwards): no secret echoed in any spelling, waits
bounded as a whole, files that are not what they seem, upgrades that trust only what they should."""

from __future__ import annotations

import base64
import json
import os
import time
from urllib.parse import quote_plus

import pytest
import yaml

from tests.helpers import GENERATOR_COMMAND, cli, discover, one_error, set_faults

pytestmark = pytest.mark.reliability

# A secret with characters a form encodes, so that its posted spelling differs from its own.
ODD_SECRET = "p@ss+w0rd/Secret=42&xyz"


def _spellings(secret: str) -> dict[str, str]:
    return {"form-encoded": quote_plus(secret), "upper-cased": secret.upper(), "half": secret[: len(secret) // 2 + 1],
            "base64": base64.b64encode(secret.encode()).decode()}


@pytest.mark.parametrize("spelling", ["form-encoded", "upper-cased", "half", "base64"])
def test_r93_a_secret_quoted_back_in_any_spelling_is_redacted(emulator, spelling):
    """The identity server's answer is replaced by one quoting the secret it was sent (whichever that was)."""
    info = emulator.info()
    quoted = _spellings(ODD_SECRET)[spelling]
    body = json.dumps({"error": "invalid_client", "error_description": f"AADSTS7000215: Invalid client secret: '{quoted}'."})
    set_faults(info, replace=50, replace_status=401, replace_body=body, path="oauth2")
    code, out, err = discover(info, "--client-id", info["client_id"], "--client-secret-env", "AZS_R_SECRET",
                              env={"AZS_R_SECRET": ODD_SECRET})
    line = one_error(code, err, "sign-in at")
    assert "[redacted]" in line
    for text in _spellings(ODD_SECRET).values():
        assert text.lower() not in (out + err).lower()


def test_r94_a_secret_given_as_a_variable_name_is_not_echoed(emulator, template_repo, tmp_path):
    info = emulator.info()
    secret = info["client_secret"]
    # Secrets with a character no name has, and one that happens to fit a name's rule (letters only).
    for given, said in ((secret + "-/+", "--client-secret-env takes the NAME of an environment variable"),
                        ("kQ9rTzLmWv" * 3, "its name is not repeated")):
        # One word (--opt=VALUE): a random secret may begin with "-", which argparse would take for an option.
        code, out, err = discover(info, "--client-id", info["client_id"], f"--client-secret-env={given}")
        one_error(code, err, said)
        assert given not in out + err
    secret += "-/+"
    teams = {"defaults": {"arm_endpoint": info["arm_endpoint"], "ca_cert": info["ca_cert"], "client_id": info["client_id"],
                          "client_secret_env": secret}, "teams": [{"project_name": "team-a"}]}
    (tmp_path / "teams.yaml").write_text(yaml.safe_dump(teams))
    code, out, err = cli("new", "--batch", str(tmp_path / "teams.yaml"), str(tmp_path / "out"), "--template",
                         str(template_repo), timeout=300)
    assert code == 1 and "client_secret_env takes the NAME" in out, out + err
    assert secret not in out + err


@pytest.mark.parametrize(("path", "fragment"), [("/metadata/", "reading the Stack's metadata: no answer within the timeout"),
                                                ("oauth2", "sign-in at")])
def test_r98_an_answer_dripped_a_byte_a_second_is_bounded_by_timeout(emulator, path, fragment):
    info = emulator.info()
    set_faults(info, drip=1.0, path=path)
    started = time.monotonic()
    code, _, err = discover(info, "--timeout", "2", "--client-id", info["client_id"], "--client-secret-env", "AZS_R_SECRET",
                            env={"AZS_R_SECRET": info["client_secret"]})
    elapsed = time.monotonic() - started
    line = one_error(code, err, fragment)
    assert "no answer within the timeout" in line
    assert elapsed < 30, elapsed  # 2 s a try, a few tries and their backoff; not a byte a second for every byte


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_r99_a_timeout_that_is_no_number_of_seconds_is_refused(value):
    code, _, err = cli("discover", "--arm-endpoint", "https://management.local.azurestack.external/", f"--timeout={value}")
    assert code == 2 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].endswith(f"argument --timeout: {value} is not a finite number of seconds"), err


@pytest.fixture
def named_pipe(tmp_path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    return pipe


def test_r100_a_pipe_or_a_device_named_as_a_file_is_refused_at_once(emulator, named_pipe, tmp_path):
    info = emulator.info()
    started = time.monotonic()
    one_error(*cli("discover", "--arm-endpoint", info["arm_endpoint"], "--root-ca", str(named_pipe))[::2],
              "it is a named pipe, not a regular file")
    one_error(*cli("discover", "--arm-endpoint", info["arm_endpoint"], "--root-ca", "/dev/zero")[::2],
              "--root-ca /dev/zero: it is a character device, not a regular file")
    one_error(*cli("new", "--batch", str(named_pipe), str(tmp_path / "out"))[::2], "it is a named pipe, not a regular file")
    code, _, err = discover(info, "--client-id", info["client_id"], "--certificate", str(named_pipe))
    one_error(code, err, f"certificate {named_pipe}: it is a named pipe, not a regular file")
    assert time.monotonic() - started < 60


def test_r107_a_throttled_sign_in_is_named(emulator):
    info = emulator.info()
    set_faults(info, transient=50, transient_status=429, retry_after=1, path="oauth2")
    code, _, err = discover(info, "--timeout", "3", "--client-id", info["client_id"], "--client-secret-env", "AZS_R_SECRET",
                            env={"AZS_R_SECRET": info["client_secret"]})
    line = one_error(code, err, "sign-in at")
    assert "None" not in line and "429" in line, line


def test_r108_the_sign_in_tls_reason_is_whole(emulator):
    import certifi

    info = emulator.info()
    code, _, err = discover(info, "--client-id", info["client_id"], "--client-secret-env", "AZS_R_SECRET",
                            env={"AZS_R_SECRET": info["client_secret"], "REQUESTS_CA_BUNDLE": certifi.where()})
    line = one_error(code, err, "its TLS certificate is not trusted (")
    reason = line.split("its TLS certificate is not trusted (", 1)[1].split(")", 1)[0]
    assert reason in ("unable to get local issuer certificate", "self-signed certificate in certificate chain",
                      "self signed certificate in certificate chain"), reason


def test_r109_the_operators_endpoint_as_arm_endpoint_is_refused(emulator):
    info = emulator.info()
    admin = info["arm_endpoint"].replace("://management.", "://adminmanagement.")
    code, _, err = cli("discover", "--arm-endpoint", admin, "--root-ca", info["ca_cert"])
    one_error(code, err, f"is the Stack operator's (administrator) Resource Manager; projects use the user endpoint "
                         f"({info['arm_endpoint']})")


def test_r110_full_width_digits_are_no_release(emulator):
    info = emulator.info()
    code, _, err = discover(info, "--release", "\uff12\uff11\uff10\uff18")  # ２１０８, full-width digits
    one_error(code, err, "cannot read the release")


def test_r111_a_file_as_destination_is_named_a_file(emulator, tmp_path):
    info = emulator.info()
    destination = tmp_path / "taken"
    destination.write_text("a file\\n")
    code, _, err = cli("new", str(destination), "--arm-endpoint", info["arm_endpoint"], "--root-ca", info["ca_cert"],
                       "--client-id", info["client_id"], "--client-secret-env", "AZS_R_SECRET", "--non-interactive",
                       env={"AZS_R_SECRET": info["client_secret"]})
    one_error(code, err, "is a file, not a directory")


def test_r114_a_template_nested_beyond_reason_is_a_400(emulator):
    import requests

    from tests.sdk import bearer

    info = emulator.info()
    base = f"{info['arm_endpoint']}subscriptions/{info['subscription_id']}/resourcegroups/deep"
    headers = bearer(info)
    requests.put(f"{base}?api-version=2019-10-01", json={"location": info["location"]}, headers=headers,
                 verify=info["ca_cert"], timeout=30).raise_for_status()
    body = '{"properties": {"mode": "Incremental", "template": ' + "[" * 100000 + "]" * 100000 + "}}"
    answer = requests.put(f"{base}/providers/Microsoft.Resources/deployments/d?api-version=2019-10-01", data=body,
                          headers={**headers, "Content-Type": "application/json"}, verify=info["ca_cert"], timeout=60)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "InvalidRequestContent", answer.text


def test_r117_a_destination_named_like_an_option_is_shown_as_a_path(emulator, template_repo, tmp_path):
    import subprocess

    info = emulator.info()
    result = subprocess.run([*GENERATOR_COMMAND, "new", "--arm-endpoint", info["arm_endpoint"], "--root-ca",
                             info["ca_cert"], "--client-id", info["client_id"], "--client-secret-env", "AZS_R_SECRET",
                             "--non-interactive", "--samples", "resource_groups", "--template", str(template_repo),
                             "--vcs-ref", "HEAD", "--", "-rf"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "AZS_R_SECRET": info["client_secret"]}, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert "    cd ./-rf\n" in result.stdout and "cd -rf" not in result.stdout
    assert (tmp_path / "-rf" / "stack.json").exists()


def test_r119_doctor_reads_no_pipe_and_no_endless_nesting_as_a_template(tmp_path, named_pipe):
    project = tmp_path / "project"
    project.mkdir()
    (project / "deep.json").write_text('{"$schema": "x", "resources": ' + "[" * 100000 + "]" * 100000 + "}")
    (project / "app.py").write_text("import json\n")
    os.symlink(named_pipe, project / "pipe.json")
    code, out, err = cli("doctor", str(project), timeout=60)
    assert code in (0, 1) and "Traceback" not in err, err
    code, _, err = cli("doctor", str(project), "--template", str(project / "deep.json"), timeout=60)
    one_error(code, err, "nests beyond reason")
    code, _, err = cli("doctor", str(project), "--template", str(named_pipe), timeout=60)
    one_error(code, err, "it is a named pipe, not a regular file")
    # Deep enough for JSON to read it, too deep to walk through: a finding, not a traceback.
    (project / "deep.json").write_text('{"$schema": "x", "contentVersion": "1.0.0.0", "resources": [{"type": "Microsoft.Storage/storageAccounts", '
                                       '"apiVersion": "2016-01-01", "name": "s", "properties": ' + '{"a": ' * 980 + "1" + "}" * 980 + "}]}")
    code, out, err = cli("doctor", str(project), "--json", timeout=60)
    assert code in (0, 1) and "Traceback" not in err, out + err
    for content in ('{"providers": ["x"]}', "\xff\xfe"):
        (tmp_path / "caps.json").write_text(content, encoding="latin-1")
        code, _, err = cli("doctor", str(project), "--capabilities", str(tmp_path / "caps.json"), timeout=60)
        one_error(code, err, "--capabilities")
    code, _, err = cli("doctor", str(project), "--capabilities", str(named_pipe), timeout=60)
    one_error(code, err, "it is a named pipe, not a regular file")
