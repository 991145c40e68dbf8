"""The catalog against the real SDK: the versions it records are the versions the clients send."""

from __future__ import annotations

import importlib

import pytest
from azure.profiles import KnownProfiles

from generator import catalog


class _NoCredential:
    def get_token(self, *scopes, **kwargs):  # never called: no request is sent
        raise AssertionError("no request expected")


def _installed(module: str) -> bool:
    try:
        importlib.import_module(module)
        return True
    except ImportError:
        return False


@pytest.mark.parametrize(
    ("profile_name", "client_name"),
    [(p, c) for p, prof in catalog.PROFILES.items() for c in prof.api_versions],
)
def test_catalog_versions_are_what_the_pinned_sdk_sends(profile_name, client_name):
    spec = catalog.CLIENTS[client_name]
    if not _installed(spec.module):
        pytest.skip(f"{spec.package} is not installed in the test environment")
    cls = getattr(importlib.import_module(spec.module), client_name)
    profile = getattr(KnownProfiles, catalog.PROFILES[profile_name].known_profile)
    args = (_NoCredential(),) if client_name == "SubscriptionClient" else (_NoCredential(), "sub")
    client = cls(*args, profile=profile)
    assert client._get_api_version(None) == catalog.PROFILES[profile_name].api_versions[client_name]


def test_installed_packages_match_the_pins():
    from importlib.metadata import version

    for pin in catalog.PINS.values():
        try:
            installed = version(pin.package)
        except Exception:
            continue
        assert installed == pin.version, pin.package


@pytest.mark.parametrize(
    ("text", "release", "build", "profile"),
    [
        ("2108", "2108", None, "2020_09_01_hybrid"),
        ("1.2108.2.65", "2108", "1.2108.2.65", "2020_09_01_hybrid"),
        ("2008", "2008", None, "2019_03_01_hybrid"),
        ("1.2008.13.88", "2008", "1.2008.13.88", "2019_03_01_hybrid"),
        ("2506", "2506", None, "2020_09_01_hybrid"),
        ("2601", "2601", None, "2020_09_01_hybrid"),
        ("1.2601.0.4", "2601", "1.2601.0.4", "2020_09_01_hybrid"),
        ("2611", "2611", None, "2020_09_01_hybrid"),
    ],
)
def test_release_to_profile(text, release, build, profile):
    assert catalog.parse_release(text) == (release, build)
    assert catalog.profile_for_release(release)[0] == profile


def test_every_release_maps_to_a_known_profile():
    assert set(catalog.STACK_RELEASES.values()) <= set(catalog.PROFILES)
    assert "2601" in catalog.STACK_RELEASES  # the newest known release (build 1.2601.0.4)


@pytest.mark.reliability
@pytest.mark.parametrize(("text", "message"), [("21.08", "cannot read"), ("2113", "cannot read"), ("abc", "cannot read"),
                                                   ("9.2222.0.222", "not a release build .* names no release")])
def test_unreadable_versions(text, message):
    with pytest.raises(catalog.CatalogError, match=message):
        catalog.parse_release(text)


def test_release_older_than_any_profile_is_a_clear_error():
    with pytest.raises(catalog.CatalogError, match="older than any API profile supports"):
        catalog.profile_for_release("1809")


def test_release_inside_the_known_range_but_unknown_is_refused():
    with pytest.raises(catalog.CatalogError, match="not a release the catalog knows"):
        catalog.profile_for_release("2104")


def test_packages_and_providers_per_sample():
    assert [p.package for p in catalog.packages_for(("resource_groups",), catalog.HYBRID_2020)] == [
        "azure-common", "azure-identity", "azure-mgmt-resource"]
    assert [p.package for p in catalog.packages_for(("virtual_networks", "storage_accounts"), catalog.HYBRID_2020)] == [
        "azure-common", "azure-identity", "azure-mgmt-network", "azure-mgmt-resource", "azure-mgmt-storage"]
    # A data-plane package comes with the sample that imports it, and only with it.
    assert [p.package for p in catalog.packages_for(("key_vault",), catalog.HYBRID_2019)] == [
        "azure-common", "azure-identity", "azure-keyvault-secrets", "azure-mgmt-keyvault", "azure-mgmt-resource"]
    assert [p.package for p in catalog.packages_for(("template_deployment",), catalog.LATEST)] == [
        "azure-common", "azure-identity", "azure-mgmt-resource"]
    assert catalog.providers_for(catalog.DEFAULT_SAMPLES) == [
        "Microsoft.KeyVault", "Microsoft.Storage", "Microsoft.Network", "Microsoft.Compute"]
    assert catalog.DEFAULT_SAMPLES == ("resource_groups", "storage_accounts", "virtual_networks", "virtual_machines",
                                       "key_vault", "blob_storage", "template_deployment")
    assert [p.requirement for p in catalog.packages_for(("blob_storage",), catalog.HYBRID_2020)][-2:] == [
        "azure-storage-blob==12.3.1", "six==1.17.0"]
    assert catalog.sample_names("virtual_networks, resource_groups") == ("resource_groups", "virtual_networks")
    with pytest.raises(catalog.CatalogError, match="unknown sample"):
        catalog.sample_names("vms")


def test_docs_pins_is_the_catalogs_table():
    """docs/pins.md is generated from the catalog (python -m generator.catalog.pins table --write): never edited apart."""
    from generator.catalog import pins

    assert pins.DOC.read_text(encoding="utf-8") == pins.table()


def test_the_emulator_is_tested_with_the_sdk_releases_projects_get():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    tested = dict(re.findall(r'"(azure-mgmt-[a-z]+|azure-common)==([^"]+)"', text))
    # Judges of the emulator that no generated project installs (yet): Microsoft.Authorization's client.
    tests_only = {"azure-mgmt-authorization"}
    shared = {name: version for name, version in tested.items() if name not in tests_only}
    assert shared == {p.package: p.version for p in catalog.PINS.values() if p.package in shared} and len(shared) == 6
    assert tests_only <= set(tested)


def test_the_pin_probe_passes_for_the_pinned_releases(tmp_path):
    """The maintainer's wire probe (python -m generator.catalog.pins verify), run by this venv, which holds the pins."""
    import sys

    from generator.catalog import pins

    emulators = pins.probe_emulators()
    try:
        infos = pins.write_probe_infos(emulators, tmp_path)
        for package in ("azure-identity", "azure-mgmt-resource", "azure-mgmt-storage", "azure-mgmt-network", "azure-mgmt-keyvault",
                        "azure-mgmt-compute"):
            assert pins.run_probe(sys.executable, package, infos) == {target: "ok" for target in pins.TARGETS}, package
    finally:
        for emulator in emulators.values():
            emulator.stop()
