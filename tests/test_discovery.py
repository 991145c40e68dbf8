"""Discovery against the emulator: every identity mode and a spread of releases, with the real azure-identity."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import requests
from azure.identity import ClientSecretCredential

from generator.discovery import JSON_KEYS, DiscoveryError, DiscoveryRequest, ServicePrincipal, discover_stack
from generator.discovery.http import StackHttp
from generator.discovery.trust import tls_context
from tests.helpers import discover, run_cli, set_faults, with_credentials

EXPECTED_PROFILE = {
    "2008": "2019_03_01_hybrid", "2102": "2020_09_01_hybrid", "2206": "2020_09_01_hybrid",
    "2311": "2020_09_01_hybrid", "2506": "2020_09_01_hybrid",
}
IDENTITIES = ["azure_ad", "adfs"]


def _request(info, with_credentials=True, **extra):
    principal = ServicePrincipal(info["client_id"], client_secret=info["client_secret"]) if with_credentials else None
    return DiscoveryRequest(arm_endpoint=info["arm_endpoint"], root_ca=info["root_ca"], principal=principal, **extra)


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("release", sorted(EXPECTED_PROFILE))
def test_credentials_show_the_profile_with_evidence(start_emulator, release, identity):
    info = start_emulator(release=release, identity_system=identity).info()
    found = discover_stack(_request(info))
    assert found.profile == EXPECTED_PROFILE[release]
    assert any("providers serve every API version" in s for s in found.profile_evidence)
    assert found.credentials_proven and found.subscription_id == info["subscription_id"] and found.location == "local"
    assert found.release is None  # a tenant cannot see the release, only what it serves


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("release", sorted(EXPECTED_PROFILE))
def test_release_alone_gives_the_same_profile(start_emulator, release, identity):
    info = start_emulator(release=release, identity_system=identity).info()
    found = discover_stack(_request(info, with_credentials=False, release=release))
    assert found.profile == EXPECTED_PROFILE[release] and found.release == release
    assert not found.credentials_proven


@pytest.mark.reliability
@pytest.mark.parametrize("identity", IDENTITIES)
def test_a_mismatch_is_refused_and_force_keeps_the_users_word(start_emulator, identity):
    info = start_emulator(release="2008", identity_system=identity).info()
    with pytest.raises(DiscoveryError, match="disagrees.*2301.*2019_03_01_hybrid.*--force"):
        discover_stack(_request(info, release="2301"))
    forced = discover_stack(_request(info, release="2301", force=True))
    assert forced.profile == "2020_09_01_hybrid" and any("--force" in s for s in forced.profile_evidence)


def test_adfs_gives_tenant_adfs_and_the_host_authority(start_emulator):
    info = start_emulator(identity_system="adfs").info()
    found = discover_stack(_request(info, with_credentials=False)).to_json()
    assert found["identity_system"] == "adfs" and found["tenant_id"] == "adfs"
    assert found["login_endpoint"] == info["identity_endpoint"] and found["login_endpoint"].endswith("/adfs/")
    assert found["authority_host"] == info["identity_endpoint"].removesuffix("adfs/").rstrip("/")


@pytest.mark.parametrize("identity", IDENTITIES)
def test_azure_identity_gets_a_token_with_the_derived_settings(start_emulator, identity):
    info = start_emulator(identity_system=identity).info()
    found = discover_stack(_request(info, with_credentials=False)).to_json()
    credential = ClientSecretCredential(
        found["tenant_id"], info["client_id"], info["client_secret"], authority=found["authority_host"],
        connection_verify=info["identity_ca_cert"], disable_instance_discovery=True,
    )
    assert credential.get_token(found["credential_scope"]).token


def test_tenant_by_directory_name_and_from_the_challenge(emulator):
    info = emulator.info()
    assert discover_stack(_request(info, False, tenant=info["tenant_domain"])).tenant_id == info["tenant_id"]
    assert discover_stack(_request(info, False)).tenant_id == info["tenant_id"]
    with pytest.raises(DiscoveryError, match="not known to"):
        discover_stack(_request(info, False, tenant="nobody.onmicrosoft.com"))


def test_adfs_refuses_a_guid_tenant(start_emulator):
    info = start_emulator(identity_system="adfs").info()
    with pytest.raises(DiscoveryError, match="always 'adfs'; drop --tenant"):
        discover_stack(_request(info, False, tenant="6f1b2b4e-0000-4000-8000-000000000000"))


def test_wrong_secret_is_reported_by_discovery(emulator):
    info = emulator.info()
    request = _request(info)
    request.principal.client_secret = "wrong"
    with pytest.raises(DiscoveryError, match="sign-in at .* failed: AADSTS7000215") as raised:
        discover_stack(request)
    assert "wrong" not in str(raised.value).replace("wrong audience", "")


def test_unknown_subscription_is_reported(emulator):
    info = emulator.info()
    with pytest.raises(DiscoveryError, match="not visible to this service principal"):
        discover_stack(_request(info, subscription_id="00000000-0000-0000-0000-000000000000"))


@pytest.mark.parametrize(("release", "build"), [("2108", "1.2108.2.65"), ("2008", "1.2008.13.88")])
def test_admin_update_api_names_the_build(start_emulator, release, build):
    info = start_emulator(release=release).info()
    found = discover_stack(_request(info, admin_endpoint=info["admin_endpoint"]))
    assert found.release == release and found.build == build
    assert any(f"admin update API reports build {build}" in s for s in found.profile_evidence)


@pytest.mark.reliability
def test_an_internal_build_is_read_without_a_traceback(start_emulator):
    # Microsoft's test stamps report builds like 9.2222.0.222 (azurestack-powershell's Update.Admin recordings).
    info = start_emulator(release="2108", build="9.2222.0.222").info()
    found = discover_stack(_request(info, admin_endpoint=info["admin_endpoint"]))
    assert found.profile == "2020_09_01_hybrid" and found.release is None  # the provider list decides
    assert any("build 9.2222.0.222, which names no release" in s for s in found.profile_evidence)


def test_release_2601_reports_its_build(start_emulator):
    info = start_emulator(release="2601").info()
    found = discover_stack(_request(info, admin_endpoint=info["admin_endpoint"]))
    assert (found.release, found.build, found.profile) == ("2601", "1.2601.0.4", "2020_09_01_hybrid")


def test_global_azure_mode_is_latest(start_emulator):
    info = start_emulator(release="azure").info()
    assert discover_stack(_request(info)).profile == "latest"


@pytest.mark.reliability
def test_transient_errors_are_retried_honouring_retry_after(emulator):
    info = emulator.info()
    requests.put(f"{info['arm_endpoint']}_emulator/faults", json={"transient": 2, "retry_after": 2, "transient_status": 429},
                 verify=info["ca_cert"], timeout=10).raise_for_status()
    http = StackHttp(tls_context(info["ca_cert"]))
    started = time.monotonic()
    assert http.get(f"{info['arm_endpoint']}metadata/endpoints?api-version=1.0", "test").status == 200
    assert time.monotonic() - started >= 4.0  # waited Retry-After (2 s) twice
    assert _metadata_requests(emulator) == 3


@pytest.mark.reliability
def test_retries_are_bounded(emulator):
    info = emulator.info()
    requests.put(f"{info['arm_endpoint']}_emulator/faults", json={"transient": 10}, verify=info["ca_cert"], timeout=10).raise_for_status()
    with pytest.raises(DiscoveryError, match="HTTP 503"):
        StackHttp(tls_context(info["ca_cert"]), retries=3, backoff=0.01).get(f"{info['arm_endpoint']}metadata/endpoints?api-version=1.0", "test")
    assert _metadata_requests(emulator) == 4  # the first try and 3 retries


def _metadata_requests(emulator) -> int:
    return sum(1 for _, path in emulator.request_log if path.endswith("/metadata/endpoints"))


def test_tls_failure_explains_ca_cert(emulator):
    with pytest.raises(DiscoveryError, match="--root-ca PEM"):
        discover_stack(DiscoveryRequest(arm_endpoint=emulator.info()["arm_endpoint"]))


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return run_cli("discover", *args, env=env, timeout=120)


@pytest.mark.parametrize("identity", IDENTITIES)
def test_cli_json_has_exactly_the_documented_keys(start_emulator, identity):
    info = start_emulator(identity_system=identity).info()
    result = _cli("--arm-endpoint", info["arm_endpoint"], "--root-ca", info["ca_cert"], "--client-id", info["client_id"],
                  "--client-secret-env", "AZS_TEST_SECRET", "--json", env={"AZS_TEST_SECRET": info["client_secret"]})
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert list(body) == list(JSON_KEYS)
    assert body["profile"] == "2020_09_01_hybrid" and body["profile_evidence"]
    assert info["client_secret"] not in result.stdout + result.stderr


def test_cli_summary_and_nulls_without_evidence(emulator):
    info = emulator.info()
    result = _cli("--arm-endpoint", info["arm_endpoint"], "--root-ca", info["ca_cert"], "--json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["profile"] is None and body["release"] is None and body["stack_version"] is None
    summary = _cli("--arm-endpoint", info["arm_endpoint"], "--root-ca", info["ca_cert"], "--release", "1.2108.2.65")
    assert summary.returncode == 0 and "2020_09_01_hybrid" in summary.stdout and "1.2108.2.65" in summary.stdout


def test_cli_summary_says_the_credentials_work_when_no_subscription_is_chosen(emulator):
    """Two subscriptions and none given: the summary says the sign-in worked and what to pass, not nothing."""
    info = emulator.info()
    two = [{"subscriptionId": f"{n}0000000-0000-0000-0000-000000000000", "state": "Enabled"} for n in (1, 2)]
    set_faults(info, replace=5, replace_body=json.dumps({"value": two}), path="^/subscriptions$")
    options, env = with_credentials(info)
    code, out, err = discover(info, *options, "--tenant", info["tenant_id"], env=env)  # no challenge to replace
    assert code == 0, err
    assert "none chosen (credentials work): the service principal sees 2 enabled subscriptions; pass --subscription-id" in out
    assert "10000000-0000-0000-0000-000000000000" in out and info["client_secret"] not in out + err


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--client-id", "x", "--client-secret-env", "AZS_UNSET_VARIABLE"], {}, "AZS_UNSET_VARIABLE: that environment variable is not set"),
        (["--client-id", "x"], {}, "no terminal to ask on"),
        (["--release", "1710"], {}, "older than any API profile supports"),
        (["--release", "21.08"], {}, "cannot read the release"),
    ],
)
def test_cli_errors_are_one_line(emulator, args, env, message):
    info = emulator.info()
    result = _cli("--arm-endpoint", info["arm_endpoint"], "--root-ca", info["ca_cert"], *args, env=env)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if not line.startswith("  ")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in result.stderr


@pytest.mark.parametrize("where", ["in a resource group", "across the subscription"])
def test_a_refused_version_of_a_providers_type_is_retried_at_the_newest_it_lists(emulator, where):
    """Resource Manager refuses a provider's type at a version it does not carry in its own words, not
    InvalidApiVersionParameter's: NoRegisteredProviderFound in a group ("The supported api-versions are '...'"),
    InvalidResourceType (404) across the subscription. Discovery's reads take the newest version listed either way."""
    from generator.discovery.http import HttpStatusError
    from generator.discovery.release import arm_get

    info = emulator.info()
    found = discover_stack(_request(info)).to_json()
    credential = ClientSecretCredential(found["tenant_id"], info["client_id"], info["client_secret"],
                                        authority=found["authority_host"], connection_verify=info["identity_ca_cert"],
                                        disable_instance_discovery=True)
    token = credential.get_token(found["credential_scope"]).token
    http = StackHttp(tls_context(info["root_ca"], None), root_ca=info["root_ca"])
    base = f"{info['arm_endpoint'].rstrip('/')}/subscriptions/{info['subscription_id']}"
    if where == "in a resource group":
        http.request("PUT", f"{base}/resourcegroups/versions?api-version=2019-10-01", "making a group",
                     headers={"Authorization": f"Bearer {token}"}, accept=(200, 201), json={"location": "local"})
        url, code = f"{base}/resourceGroups/versions/providers/Microsoft.Storage/storageAccounts", "NoRegisteredProviderFound"
    else:
        url, code = f"{base}/providers/Microsoft.Storage/storageAccounts", "InvalidResourceType"
    with pytest.raises(HttpStatusError) as refused:
        http.get(f"{url}?api-version=2099-01-01", "listing", headers={"Authorization": f"Bearer {token}"})
    assert refused.value.arm_code == code
    assert arm_get(http, url, token, "listing the storage accounts", "2099-01-01") == {"value": []}
