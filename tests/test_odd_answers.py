"""Odd answers, slow servers and bad input: one clear line, bounded waits (docs/reliability.md R74-R84)."""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.helpers import cli, discover, one_error, set_faults, with_credentials

pytestmark = pytest.mark.reliability


@pytest.mark.parametrize("header", ["garbage", "-5", "Wed, 99 Foo 2026 25:61:00 GMT"])
def test_r74_an_unreadable_retry_after_counts_as_absent(emulator, header):
    info = emulator.info()
    set_faults(info, transient=2, retry_after_header=header, path="/metadata/")
    code, out, err = discover(info, "--json")
    assert code == 0 and "Traceback" not in err, err
    assert json.loads(out)["resource_manager"] == info["arm_endpoint"]


def test_r75_timeout_bounds_sign_in_too(emulator):
    info = emulator.info()
    set_faults(info, latency=6, path="oauth2")
    args, env = with_credentials(info)
    started = time.monotonic()
    line = one_error(*discover(info, *args, "--timeout", "1", env=env)[::2], "sign-in at")
    assert time.monotonic() - started < 15  # 3 attempts of 1 s and their backoff, not the SDK's 300 s
    assert "no answer within the timeout" in line and "check the client id" not in line


@pytest.mark.parametrize(("status", "body", "content_type"), [
    (200, "<html><body>Sign in</body></html>", "text/html"),
    (307, "", "text/html"),
])
def test_r76_a_token_endpoint_that_answers_no_token(emulator, status, body, content_type):
    info = emulator.info()
    set_faults(info, replace=20, replace_status=status, replace_body=body, replace_content_type=content_type, path="oauth2")
    args, env = with_credentials(info)
    line = one_error(*discover(info, *args, env=env)[::2], "sign-in at")
    assert "check the client id" not in line


def test_r77_metadata_nested_beyond_reason(emulator):
    info = emulator.info()
    set_faults(info, replace=20, replace_body="[" * 100000 + "]" * 100000, path="/metadata/")
    one_error(*discover(info)[::2], "answered something that is not JSON")


def test_r78_a_host_label_longer_than_dns_allows(tmp_path):
    one_error(*cli("discover", "--arm-endpoint", f"https://{'a' * 64}.local.azurestack.external")[::2], "DNS cannot hold")


@pytest.mark.parametrize(("option", "value", "fragment"), [
    ("--subscription-id", "../../admin/subscriptions", "is not a subscription id"),
    ("--client-id", "my-app", "is not an application id"),
    ("--tenant", "../evil", "neither a GUID nor a directory name"),
])
def test_r79_identifiers_are_checked_before_anything_is_sent(emulator, option, value, fragment):
    info = emulator.info()
    args, env = with_credentials(info)
    if option == "--client-id":
        args[1] = value
    else:
        args += [option, value]
    before = len(emulator.request_log)
    one_error(*discover(info, *args, env=env)[::2], fragment)
    assert len(emulator.request_log) == before


@pytest.mark.parametrize(("plan", "reason"), [
    ({"path": "("}, "path is not a regular expression"),
    ({"transient": "5"}, "transient must be a whole number"),
    ({"latency": "abc"}, "latency must be a number"),
    ({"replace_status": 700}, "replace_status must be an HTTP status"),
    ({"drop": -1}, "drop must not be negative"),
    ({"registration_stuck": 1}, "registration_stuck must be true or false"),
])
def test_r80_the_fault_plan_is_checked(emulator, plan, reason):
    info = emulator.info()
    response = requests.put(f"{info['arm_endpoint']}_emulator/faults", json=plan, verify=info["ca_cert"], timeout=10)
    assert response.status_code == 400 and reason in response.json()["error"]["message"], response.text
    # ... and nothing was changed: requests still work.
    assert requests.get(f"{info['arm_endpoint']}metadata/endpoints?api-version=1.0", verify=info["ca_cert"], timeout=10).ok


def test_r81_an_info_file_that_is_a_directory(tmp_path):
    code, _, err = cli("emulator", "--info-file", str(tmp_path), timeout=60)
    one_error(code, err, f"cannot write --info-file {tmp_path}")


def test_r82_listing_stays_right_while_others_create_and_delete(emulator):
    """20 clients at once: each lists the groups while the others create and delete theirs; the group a
    client made itself and keeps must appear in every one of its lists (continuation tokens are names)."""
    from tests.concurrency import list_while_churning

    misses, errors, _ = list_while_churning(emulator.info(), clients=20, rounds=4)
    assert not errors, errors[:3]
    assert misses == []
