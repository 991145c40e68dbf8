"""Round 3 of bad input and misuse (docs/reliability.md R93 onwards): no secret echoed in any spelling, waits
bounded as a whole, files that are not what they seem, upgrades that trust only what they should."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote_plus

import pytest
import yaml

from tests.test_reliability import cli, discover, one_error, set_faults

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
    code, out, err = discover(info, "--client-id", info["client_id"], "--client-secret-env", secret)
    one_error(code, err, "--client-secret-env takes the NAME of an environment variable")
    assert secret not in out + err
    teams = {"defaults": {"arm_endpoint": info["arm_endpoint"], "ca_cert": info["ca_cert"], "client_id": info["client_id"],
                          "client_secret_env": secret}, "teams": [{"project_name": "team-a"}]}
    (tmp_path / "teams.yaml").write_text(yaml.safe_dump(teams))
    code, out, err = cli("new", "--batch", str(tmp_path / "teams.yaml"), str(tmp_path / "out"), "--template",
                         str(template_repo), timeout=300)
    assert code == 1 and "client_secret_env takes the NAME" in out, out + err
    assert secret not in out + err
