"""Faults on demand, set at start or at run time through /_emulator/faults."""

from __future__ import annotations

import time

import pytest
import requests

from azs_emulator import FaultPlan


def _metadata_url(info):
    return f"{info['arm_endpoint']}metadata/endpoints?api-version=1.0"


def _set_faults(info, **plan):
    response = requests.put(f"{info['arm_endpoint']}_emulator/faults", json=plan, verify=info["ca_cert"], timeout=10)
    response.raise_for_status()
    return response.json()


@pytest.mark.parametrize("status", [429, 503])
def test_transient_errors_carry_retry_after_and_then_stop(emulator, status):
    info = emulator.info()
    _set_faults(info, transient=2, transient_status=status, retry_after=3)
    for _ in range(2):
        response = requests.get(_metadata_url(info), verify=info["ca_cert"], timeout=10)
        assert response.status_code == status and response.headers["Retry-After"] == "3"
    assert requests.get(_metadata_url(info), verify=info["ca_cert"], timeout=10).status_code == 200


def test_dropped_connection(emulator):
    info = emulator.info()
    _set_faults(info, drop=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(_metadata_url(info), verify=info["ca_cert"], timeout=10)
    assert requests.get(_metadata_url(info), verify=info["ca_cert"], timeout=10).ok


def test_truncated_body_is_not_json(emulator):
    info = emulator.info()
    _set_faults(info, truncate=1)
    try:
        body = requests.get(_metadata_url(info), verify=info["ca_cert"], timeout=10).content
    except requests.exceptions.ChunkedEncodingError:
        return  # the client noticed the short body itself: a truncation just the same
    with pytest.raises(ValueError):
        requests.models.complexjson.loads(body)


def test_non_json_answer_is_an_html_page(emulator):
    info = emulator.info()
    _set_faults(info, non_json=1)
    response = requests.get(_metadata_url(info), verify=info["ca_cert"], timeout=10)
    assert response.status_code == 502 and response.headers["Content-Type"].startswith("text/html")


def test_latency_and_path_filter(emulator):
    info = emulator.info()
    _set_faults(info, latency=0.4, path="/metadata/")
    started = time.monotonic()
    requests.get(_metadata_url(info), verify=info["ca_cert"], timeout=10)
    slow = time.monotonic() - started
    started = time.monotonic()
    requests.get(f"{info['arm_endpoint']}subscriptions?api-version=2016-06-01", verify=info["ca_cert"], timeout=10)
    assert slow >= 0.4 and time.monotonic() - started < 0.4


def test_faults_from_the_start_options(start_emulator):
    info = start_emulator(faults=FaultPlan(transient=1)).info()
    assert requests.get(_metadata_url(info), verify=info["ca_cert"], timeout=10).status_code == 503
    assert requests.get(_metadata_url(info), verify=info["ca_cert"], timeout=10).status_code == 200


def test_a_bad_fault_plan_is_refused_and_delete_clears(emulator):
    info = emulator.info()
    bad = requests.put(f"{info['arm_endpoint']}_emulator/faults", json={"explode": 1}, verify=info["ca_cert"], timeout=10)
    assert bad.status_code == 400 and "explode" in bad.json()["error"]["message"]
    _set_faults(info, transient=5)
    cleared = requests.delete(f"{info['arm_endpoint']}_emulator/faults", verify=info["ca_cert"], timeout=10).json()
    assert cleared["transient"] == 0
    assert requests.get(_metadata_url(info), verify=info["ca_cert"], timeout=10).ok
