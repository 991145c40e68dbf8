"""The emulator under load: idle keep-alive clients hold no threads, idle connections and tunnels close after the
keep-alive timeout, a busy emulator answers 503 with Retry-After, and request bodies are read within their kind's
limit (answered in the service's own words past it). Real TLS, through the emulator's proxy, with raw clients so
that what the server does to a connection is seen as it is."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests

from azs_emulator import FaultPlan

_METADATA = "/metadata/endpoints?api-version=2015-01-01"


def _client(info: dict, host: str | None = None) -> http.client.HTTPSConnection:
    """A keep-alive HTTPS connection through the emulator's proxy, after one answered request."""
    proxy = urlsplit(info["https_proxy"])
    connection = http.client.HTTPSConnection(proxy.hostname, proxy.port, timeout=30,
                                             context=ssl.create_default_context(cafile=info["ca_cert"]))
    connection.set_tunnel(host or urlsplit(info["arm_endpoint"]).hostname, 443)
    connection.request("GET", _METADATA)
    answer = connection.getresponse()
    answer.read()
    assert answer.status == 200
    return connection


def _emulator_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name.startswith("azs-emulator"))


@pytest.mark.reliability
def test_idle_keep_alive_clients_hold_no_threads_and_a_new_client_is_answered_at_once(emulator):
    info = emulator.info()
    idle = [_client(info) for _ in range(300)]
    try:
        started = time.monotonic()
        newcomer = _client(info)
        assert time.monotonic() - started < 1.0
        deadline = time.monotonic() + 20
        while _emulator_threads() > 64 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _emulator_threads() <= 64, f"{_emulator_threads()} emulator threads for 301 idle clients"
        # Day two: the idle connections still work, and the newcomer goes on too.
        for connection in (idle[0], idle[-1], newcomer):
            connection.request("GET", _METADATA)
            answer = connection.getresponse()
            assert answer.status == 200 and json.loads(answer.read())["galleryEndpoint"]
    finally:
        for connection in idle:
            connection.close()


def test_idle_connections_and_tunnels_close_after_the_keep_alive_timeout(start_emulator):
    emulator = start_emulator(keep_alive_timeout=1.0)
    info = emulator.info()
    connection = _client(info)
    time.sleep(2.5)
    assert connection.sock is not None
    connection.sock.settimeout(5)
    assert connection.sock.recv(1) == b"", "the idle connection was not closed"
    connection.close()
    # A client that sees the closed connection opens a new one, as urllib3 does.
    session = requests.Session()
    assert session.get(info["arm_endpoint"] + _METADATA.lstrip("/"), verify=info["ca_cert"], timeout=10).ok
    time.sleep(2.5)
    assert session.get(info["arm_endpoint"] + _METADATA.lstrip("/"), verify=info["ca_cert"], timeout=10).ok


@pytest.mark.reliability
def test_a_busy_emulator_answers_503_with_retry_after_rather_than_a_thread_per_connection(start_emulator):
    emulator = start_emulator(workers=1, faults=FaultPlan(latency=1.0, path="metadata"))
    info = emulator.info()
    url = info["arm_endpoint"] + _METADATA.lstrip("/")

    def ask(_: int) -> requests.Response:
        return requests.get(url, verify=info["ca_cert"], timeout=60)

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(ask, range(16)))
    busy = [a for a in answers if a.status_code == 503]
    assert busy and all(a.status_code == 200 for a in answers if a not in busy)
    assert busy[0].headers["Retry-After"] == "1" and busy[0].json()["error"]["code"] == "ServiceUnavailable"
    assert _emulator_threads() <= 5
    emulator.faults.set_plan(FaultPlan())
    assert ask(0).ok


def _raw_put(info: dict, path: str, head: bytes, body: bytes) -> tuple[int, dict, bytes, bool]:
    """Send a hand-written request through the proxy: (status, headers, body, whether the server then closed)."""
    proxy = urlsplit(info["https_proxy"])
    host = urlsplit(info["arm_endpoint"]).hostname
    raw = socket.create_connection((proxy.hostname, proxy.port), timeout=30)
    raw.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
    assert raw.recv(4096).startswith(b"HTTP/1.1 200")
    tls = ssl.create_default_context(cafile=info["ca_cert"]).wrap_socket(raw, server_hostname=host)
    with tls:
        tls.sendall(f"PUT {path} HTTP/1.1\r\nHost: {host}\r\n".encode() + head + b"\r\n")
        try:
            tls.sendall(body)
        except OSError:
            pass
        answer = http.client.HTTPResponse(tls)  # type: ignore[arg-type]
        answer.begin()
        content = answer.read()
        closed = answer.will_close
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, content, closed


@pytest.mark.reliability
def test_request_bodies_past_their_limit_are_answered_in_the_services_words(emulator):
    info = emulator.info()
    plan = json.dumps({"latency": 0}).encode()
    # Resource Manager's 4 MB: the body is read (in pieces, and dropped) and answered; the next request is served.
    padded = b'{"latency": 0, "path": "' + b"x" * (4 * 1024 * 1024) + b'"}'
    status, _, content, closed = _raw_put(info, "/_emulator/faults", f"Content-Length: {len(padded)}\r\n".encode(), padded)
    assert status == 413 and closed
    assert json.loads(content)["error"] == {"code": "RequestContentTooLarge",
                                            "message": "The request content size exceeds the maximum size of 4 MB."}
    # A length that is no length is the client's error (it was a 500).
    for bad in (b"Content-Length: ten\r\n", b"Content-Length: -5\r\n", b"Content-Length: 3\r\nContent-Length: 4\r\n"):
        status, _, content, closed = _raw_put(info, "/_emulator/faults", bad, plan)
        assert status == 400 and b"invalid content length" in content and closed
    # Chunked transfer coding is read as well, within the same limit.
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in (plan[:5], plan[5:])) + b"0\r\n\r\n"
    status, _, content, _ = _raw_put(info, "/_emulator/faults", b"Transfer-Encoding: chunked\r\n", chunked)
    assert status == 200 and json.loads(content)["latency"] == 0
    assert requests.get(f"{info['arm_endpoint']}{_METADATA.lstrip('/')}", verify=info["ca_cert"], timeout=10).ok


def test_a_blob_block_past_its_service_versions_limit_is_request_body_too_large(emulator):
    info = emulator.info()
    proxy = urlsplit(info["https_proxy"])
    host = f"account.blob.{info['storage_suffix']}"
    block = b"\0" * (4 * 1024 * 1024 + 1)  # Put Block before service version 2016-05-31: 4 MiB
    raw = socket.create_connection((proxy.hostname, proxy.port), timeout=30)
    raw.sendall(f"CONNECT {host}:443 HTTP/1.1\r\n\r\n".encode())
    assert raw.recv(4096).startswith(b"HTTP/1.1 200")
    with ssl.create_default_context(cafile=info["ca_cert"]).wrap_socket(raw, server_hostname=host) as tls:
        tls.sendall(f"PUT /c/b?comp=block&blockid=AAAA HTTP/1.1\r\nHost: {host}\r\nx-ms-version: 2015-04-05\r\n"
                    f"Content-Length: {len(block)}\r\n\r\n".encode() + block)
        answer = http.client.HTTPResponse(tls)  # type: ignore[arg-type]
        answer.begin()
        content = answer.read()
    assert answer.status == 413 and answer.getheader("x-ms-error-code") == "RequestBodyTooLarge"
    assert b"<MaxLimit>4194304</MaxLimit>" in content


@pytest.mark.reliability
def test_r240_accepted_operations_kept_are_bounded_the_newest_still_answer(emulator):
    """An hour of long-running operations does not grow the emulator without end: the oldest accepted operations are
    forgotten (their poll answers 404), the newest still answer."""
    from azure.mgmt.resource import ResourceManagementClient
    from azure.profiles import KnownProfiles

    from tests import sdk

    emulator.arm.OPERATIONS_KEPT = 2
    info = emulator.info()
    groups = sdk.client(ResourceManagementClient, info, KnownProfiles.v2020_09_01_hybrid).resource_groups
    base = f"{info['arm_endpoint']}subscriptions/{info['subscription_id']}/resourcegroups"
    polls = []
    for index in range(4):
        groups.create_or_update(f"rg-{index}", {"location": "local"})
        deleted = requests.delete(f"{base}/rg-{index}?api-version=2019-10-01", headers=sdk.bearer(info),
                                  verify=info["ca_cert"], timeout=10)
        assert deleted.status_code == 202
        polls.append(deleted.headers["Location"])
    answers = [requests.get(url, headers=sdk.bearer(info), verify=info["ca_cert"], timeout=10).status_code for url in polls]
    assert answers[:2] == [404, 404] and all(code in (200, 204) for code in answers[2:]), answers
    assert len(emulator.arm._operations) == 2
