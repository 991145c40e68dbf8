"""The emulator's TLS, metadata and identity, driven by requests and the real azure-identity."""

from __future__ import annotations

import re
import socket
import ssl
import time

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError

from tests import sdk


def test_tls_is_refused_without_the_ca_and_accepted_with_it(emulator):
    url = emulator.info()["arm_endpoint"] + "metadata/endpoints?api-version=1.0"
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, timeout=10)  # certifi's bundle does not know the emulator's root
    assert requests.get(url, verify=emulator.info()["ca_cert"], timeout=10).status_code == 200


def _tunnel(proxy: str, host: str) -> socket.socket:
    """A connection to ``host``:443 through the emulator's proxy, as HTTPS_PROXY clients open it."""
    address = proxy.split("://", 1)[1].rsplit(":", 1)
    raw = socket.create_connection((address[0], int(address[1])), timeout=10)
    raw.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += raw.recv(4096)
    assert answer.startswith(b"HTTP/1.1 200"), answer
    return raw


@pytest.mark.parametrize(("layout", "host"), [("loopback", "127.0.0.1"), ("loopback", "localhost"),
                                              ("names", "management.local.azurestack.external"),
                                              ("names", "adminmanagement.local.azurestack.external"),
                                              ("names", "kv1.vault.local.azurestack.external")])
def test_certificates_pass_python_313_strict_x509_checks(start_emulator, layout, host):
    # Python 3.13's default context sets these flags; setting them here checks the same rules on any Python.
    info = start_emulator(layout=layout).info()
    context = ssl.create_default_context(cafile=info["ca_cert"])
    context.verify_flags |= ssl.VERIFY_X509_STRICT | getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0)
    if layout == "loopback":
        raw = socket.create_connection(("127.0.0.1", int(info["arm_endpoint"].rsplit(":", 1)[1].strip("/"))), timeout=10)
    else:
        raw = _tunnel(info["https_proxy"], host)
    with raw, context.wrap_socket(raw, server_hostname=host) as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


def _origin(url: str) -> str:
    return "/".join(url.split("/")[:3])


def _verifies(url: str, ca: str) -> bool:
    try:
        requests.get(url, verify=ca, timeout=10)
    except requests.exceptions.SSLError:
        return False
    return True


@pytest.mark.parametrize("identity", ["azure_ad", "adfs"])
def test_sign_in_has_its_own_host_as_on_a_real_stack(start_emulator, identity):
    """Azure AD: another host, under a CA standing in for a public one; ADFS: another host on the Stack's CA."""
    info = start_emulator(identity_system=identity).info()
    login = info["identity_endpoint"]
    assert _origin(login) != _origin(info["arm_endpoint"])
    openid = f"{login}{'' if identity == 'adfs' else info['tenant_id'] + '/'}.well-known/openid-configuration"
    if identity == "azure_ad":
        assert info["identity_ca_cert"] != info["ca_cert"]
        assert _verifies(openid, info["identity_ca_cert"]) and not _verifies(openid, info["ca_cert"])
        assert not _verifies(f"{info['arm_endpoint']}metadata/endpoints?api-version=1.0", info["identity_ca_cert"])
    else:
        assert info["identity_ca_cert"] == info["ca_cert"] and _verifies(openid, info["ca_cert"])
    assert requests.get(openid, verify=info["identity_ca_cert"], timeout=10).json()["token_endpoint"].startswith(_origin(login))
    # Each listener serves its own side only.
    assert requests.get(f"{_origin(login)}/metadata/endpoints?api-version=1.0", verify=info["identity_ca_cert"], timeout=10).status_code == 404


def test_single_host_serves_sign_in_beside_the_resource_manager(start_emulator):
    info = start_emulator(layout="loopback", single_host=True).info()
    assert _origin(info["identity_endpoint"]) == _origin(info["arm_endpoint"]) and info["identity_ca_cert"] == info["ca_cert"]


@pytest.mark.parametrize("version", ["1.0", "2015-01-01"])
@pytest.mark.parametrize("identity", ["azure_ad", "adfs"])
def test_metadata_old_versions_answer_one_object(start_emulator, version, identity):
    info = start_emulator(identity_system=identity).info()
    body = requests.get(f"{info['arm_endpoint']}metadata/endpoints?api-version={version}", verify=info["ca_cert"], timeout=10).json()
    assert set(body) == {"galleryEndpoint", "graphEndpoint", "portalEndpoint", "authentication"}
    login = body["authentication"]["loginEndpoint"]
    assert login.rstrip("/") == info["identity_endpoint"].rstrip("/")
    assert login.rstrip("/").lower().endswith("/adfs") == (identity == "adfs")
    # An identifier as a Stack names it (management.<directory>/<app id>; ADFS: management.adfs.azurestack.local/<app id>).
    domain = "adfs.azurestack.local" if identity == "adfs" else info["tenant_domain"]
    assert re.fullmatch(rf"https://management\.{re.escape(domain)}/[0-9a-f-]{{36}}", body["authentication"]["audiences"][0])


@pytest.mark.parametrize("version", ["2019-05-01", "2020-06-01", "2022-09-01"])
def test_metadata_new_versions_answer_a_one_element_array_without_resource_manager(emulator, version):
    info = emulator.info()
    body = requests.get(f"{info['arm_endpoint']}metadata/endpoints?api-version={version}", verify=info["ca_cert"], timeout=10).json()
    assert isinstance(body, list) and len(body) == 1
    assert "resourceManager" not in body[0]
    assert body[0]["name"].startswith("AzureStack-User-")
    assert set(body[0]["suffixes"]) == {"keyVaultDns", "storage"}


def test_metadata_without_a_known_api_version_is_refused(emulator):
    info = emulator.info()
    response = requests.get(f"{info['arm_endpoint']}metadata/endpoints?api-version=2017-01-01", verify=info["ca_cert"], timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidApiVersionParameter"


@pytest.mark.parametrize("identity", ["azure_ad", "adfs"])
def test_client_secret_credential_gets_a_token(start_emulator, identity):
    info = start_emulator(identity_system=identity).info()
    token = sdk.credential(info).get_token(sdk.scope(info))
    assert token.token and token.expires_on > time.time() + 3000


def _token_endpoint(info, tenant=None):
    if info["identity_system"] == "adfs":
        return f"{info['identity_endpoint']}oauth2/token/"
    return f"{info['identity_endpoint']}{tenant or info['tenant_id']}/oauth2/v2.0/token"


def _post_token(info, tenant=None, **form):
    data = {"client_id": info["client_id"], "client_secret": info["client_secret"], "grant_type": "client_credentials",
            "client_info": "1", "scope": sdk.scope(info)}
    data.update(form)
    return requests.post(_token_endpoint(info, tenant), data=data, verify=info["identity_ca_cert"], timeout=10)


@pytest.mark.parametrize("identity", ["azure_ad", "adfs"])
def test_both_scope_spellings_are_accepted(start_emulator, identity):
    info = start_emulator(identity_system=identity).info()
    for scope in (sdk.scope(info), f"openid profile offline_access {sdk.scope(info)}"):
        body = _post_token(info, scope=scope).json()
        assert body["token_type"] == "Bearer" and int(body["expires_in"]) > 0 and body["access_token"]


@pytest.mark.parametrize(("build", "bare_scope"), [("1.2108.2.65", False), ("1.2008.13.88", False),
                                                  ("1.2108.2.130", True), ("1.2206.1.24", True), ("9.2222.0.222", True)])
def test_adfs_takes_a_bare_default_scope_from_hotfix_1_2108_2_130(start_emulator, build, bare_scope):
    # docs: "Support for the .default scope has been added to AD FS" (hotfix 1.2108.2.130).
    info = start_emulator(identity_system="adfs", release=build.split(".")[1] if build[0] == "1" else "2108", build=build).info()
    bare = _post_token(info, scope=sdk.scope(info))
    assert bare.status_code == (200 if bare_scope else 400)
    if not bare_scope:
        assert bare.json()["error"] == "invalid_scope" and "1.2108.2.130" in bare.json()["error_description"]
        with pytest.raises(ClientAuthenticationError):
            sdk.credential(info).get_token(sdk.scope(info))
    # the official samples' scope signs in on every build, again on a second request
    for _ in range(2):
        assert _post_token(info, scope=f"openid profile offline_access {sdk.scope(info)}").status_code == 200


def test_a_build_is_four_numbers():
    from azs_emulator import EmulatorConfig
    from azs_emulator.errors import EmulatorError

    EmulatorConfig(build="9.2222.0.222").validate()
    with pytest.raises(EmulatorError, match="unknown build '1.2108': give four numbers"):
        EmulatorConfig(build="1.2108").validate()


@pytest.mark.parametrize("identity", ["azure_ad", "adfs"])
def test_wrong_secret_is_invalid_client(start_emulator, identity):
    info = start_emulator(identity_system=identity).info()
    response = _post_token(info, client_secret="not-the-secret")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client" and response.json()["error_description"]
    with pytest.raises(ClientAuthenticationError, match="MSIS9622|AADSTS7000215"):
        sdk.credential(info, secret="not-the-secret").get_token(sdk.scope(info))


@pytest.mark.parametrize("identity", ["azure_ad", "adfs"])
def test_unknown_client_id_is_refused(start_emulator, identity):
    info = start_emulator(identity_system=identity).info()
    response = _post_token(info, client_id="00000000-0000-0000-0000-000000000000")
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("invalid_client", "unauthorized_client")


@pytest.mark.parametrize("identity", ["azure_ad", "adfs"])
def test_scope_for_another_audience_is_invalid_scope(start_emulator, identity):
    info = start_emulator(identity_system=identity).info()
    response = _post_token(info, scope="https://management.azure.com/.default")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope" and response.json()["error_description"]


def test_azure_ad_v1_openid_configuration_names_the_tenant_guid_for_the_domain(emulator):
    info = emulator.info()
    url = f"{info['identity_endpoint']}{info['tenant_domain']}/.well-known/openid-configuration"
    issuer = requests.get(url, verify=info["identity_ca_cert"], timeout=10).json()["issuer"]
    assert issuer.rstrip("/").rsplit("/", 1)[1] == info["tenant_id"]


def test_unknown_tenant_is_refused(emulator):
    info = emulator.info()
    url = f"{info['identity_endpoint']}nosuchtenant.onmicrosoft.com/.well-known/openid-configuration"
    response = requests.get(url, verify=info["identity_ca_cert"], timeout=10)
    assert response.status_code == 400 and response.json()["error"] == "invalid_tenant"
    assert _post_token(info, tenant="nosuchtenant.onmicrosoft.com").json()["error"] == "invalid_tenant"


def test_adfs_openid_configuration_points_at_its_token_endpoint(start_emulator):
    info = start_emulator(identity_system="adfs").info()
    body = requests.get(f"{info['identity_endpoint']}.well-known/openid-configuration", verify=info["identity_ca_cert"], timeout=10).json()
    assert body["token_endpoint"] == f"{info['identity_endpoint']}oauth2/token/"
    assert body["issuer"] == info["identity_endpoint"].rstrip("/") and body["issuer"].endswith("/adfs")


def test_arm_without_a_token_answers_401_with_the_authorization_uri(emulator):
    info = emulator.info()
    response = requests.get(f"{info['arm_endpoint']}subscriptions?api-version=2016-06-01", verify=info["ca_cert"], timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AuthenticationFailed"
    assert f'authorization_uri="{info["identity_endpoint"]}{info["tenant_id"]}"' in response.headers["WWW-Authenticate"]


def test_tokens_expire(start_emulator):
    info = start_emulator(token_lifetime=1).info()
    headers = {"Authorization": "Bearer " + _post_token(info).json()["access_token"]}
    url = f"{info['arm_endpoint']}subscriptions/{info['subscription_id']}?api-version=2016-06-01"
    assert requests.get(url, headers=headers, verify=info["ca_cert"], timeout=10).status_code == 200
    time.sleep(1.1)
    response = requests.get(url, headers=headers, verify=info["ca_cert"], timeout=10)
    assert response.status_code == 401 and response.json()["error"]["code"] == "ExpiredAuthenticationToken"


def test_tokens_are_bound_to_their_audience(emulator):
    info = emulator.info()
    url = f"{info['arm_endpoint']}subscriptions/{info['subscription_id']}?api-version=2016-06-01"
    response = requests.get(url, headers=sdk.bearer(info, admin=True), verify=info["ca_cert"], timeout=10)
    assert response.status_code == 401 and response.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"
    forged = {"Authorization": "Bearer not-a-token"}
    assert requests.get(url, headers=forged, verify=info["ca_cert"], timeout=10).json()["error"]["code"] == "InvalidAuthenticationToken"
