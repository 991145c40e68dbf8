"""Offline checks of the shared module: configuration loading and the client factory.

    .venv/bin/python -m unittest discover -s tests -t .
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import unittest
from pathlib import Path

from samples import azure_stack

ROOT = Path(__file__).resolve().parent.parent


class OfflineProject(unittest.TestCase):
    """A copy of this project's stack.json and a service principal file in a temporary folder."""

    def setUp(self) -> None:
        # These checks are about the project's own files, also when run against an emulator.
        overlay = os.environ.pop(azure_stack.OVERLAY_ENV, None)
        if overlay is not None:
            self.addCleanup(os.environ.__setitem__, azure_stack.OVERLAY_ENV, overlay)
        self.dir = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.dir)
        shutil.copy(ROOT / "stack.json", self.dir / "stack.json")
        self.sp = {
            "clientId": "11111111-1111-1111-1111-111111111111",
            "clientSecret": "offline-test-secret",
            "subscriptionId": "22222222-2222-2222-2222-222222222222",
            "tenantId": "adfs",
            "resourceManagerEndpointUrl": "https://management.example/",
            "location": "local",
        }
        self.write_sp()

    def write_sp(self, mode: int = 0o600) -> None:
        path = self.dir / azure_stack.SECRET_FILE
        path.write_text(json.dumps(self.sp))
        path.chmod(mode)


class ConfigTest(OfflineProject):
    def test_an_emulator_overlay_replaces_the_credential_file(self) -> None:
        (self.dir / azure_stack.SECRET_FILE).write_text("{ not json: never read in this mode")
        overlay = {**self.sp, "clientSecret": "emulator-secret", "authorityHost": "https://127.0.0.1:1",
                   "credentialScope": "https://127.0.0.1:1/x/.default", "resourceManagerEndpointUrl": "https://127.0.0.1:1/"}
        (self.dir / "overlay.json").write_text(json.dumps(overlay))
        os.environ[azure_stack.OVERLAY_ENV] = str(self.dir / "overlay.json")
        self.addCleanup(os.environ.pop, azure_stack.OVERLAY_ENV, None)
        config = azure_stack.load_config(self.dir)
        self.assertEqual((config.client_secret, config.resource_manager), ("emulator-secret", "https://127.0.0.1:1/"))
        self.assertEqual(config.known_profile, json.loads((ROOT / "stack.json").read_text())["knownProfile"])

    def test_loads_the_generated_stack_settings(self) -> None:
        config = azure_stack.load_config(self.dir)
        stack = json.loads((ROOT / "stack.json").read_text())
        self.assertEqual(config.credential_scope, stack["credentialScope"])
        self.assertEqual(config.known_profile, stack["knownProfile"])
        self.assertEqual(config.client_secret, "offline-test-secret")
        self.assertNotIn("offline-test-secret", repr(config))

    def test_environment_stands_in_for_an_empty_secret(self) -> None:
        self.sp["clientSecret"] = ""
        self.write_sp()
        os.environ[azure_stack.SECRET_ENV] = "from-the-environment"
        self.addCleanup(os.environ.pop, azure_stack.SECRET_ENV)
        self.assertEqual(azure_stack.load_config(self.dir).client_secret, "from-the-environment")

    def test_a_missing_key_is_named(self) -> None:
        del self.sp["clientId"]
        self.write_sp()
        with self.assertRaisesRegex(azure_stack.ConfigError, "lacks clientId"):
            azure_stack.load_config(self.dir)
        self.sp["clientId"] = "11111111-1111-1111-1111-111111111111"
        self.write_sp()
        stack = json.loads((self.dir / "stack.json").read_text())
        del stack["subscriptionId"]
        (self.dir / "stack.json").write_text(json.dumps(stack))
        with self.assertRaisesRegex(azure_stack.ConfigError, "stack.json lacks subscriptionId; regenerate it"):
            azure_stack.load_config(self.dir)

    def test_the_stacks_settings_come_from_stack_json_only(self) -> None:
        """The service principal file keeps Microsoft's keys for Microsoft's samples; after an upgrade they may be
        stale, and this project never reads them."""
        stack = json.loads((self.dir / "stack.json").read_text())
        self.sp.update(resourceManagerEndpointUrl="https://management.stale.example/", tenantId="stale-tenant",
                       subscriptionId="33333333-3333-3333-3333-333333333333", location="stale-region")
        self.write_sp()
        config = azure_stack.load_config(self.dir)
        self.assertEqual((config.resource_manager, config.tenant_id, config.subscription_id, config.location),
                         (stack["resourceManagerEndpointUrl"], stack["tenantId"], stack["subscriptionId"], stack["location"]))

    @unittest.skipIf(os.name == "nt", "POSIX permissions")
    def test_an_open_config_file_is_warned_about(self) -> None:
        self.write_sp(0o644)
        self.assertTrue(any("chmod 600" in w for w in azure_stack.load_config(self.dir).warnings))


class ClientFactoryTest(unittest.TestCase):
    def test_clients_get_endpoint_scope_and_profile(self) -> None:
        from azure.mgmt.resource import ResourceManagementClient

        config = azure_stack.load_config(ROOT) if (ROOT / azure_stack.SECRET_FILE).exists() else None
        if config is None:
            self.skipTest("no service principal file in this checkout")
        resources = azure_stack.client(ResourceManagementClient, config)
        self.assertEqual(resources._config.credential_scopes, [config.credential_scope])
        self.assertEqual(resources._client._base_url.rstrip("/"), config.resource_manager.rstrip("/"))
        self.assertEqual(resources._get_api_version(None), config.api_versions["ResourceManagementClient"])


class _FakeToken:
    def __init__(self, token: str) -> None:
        self.token = token


class _FakeCredential:
    """Hands out a token with the given claims (offline: nothing signs in)."""

    def __init__(self, claims: dict) -> None:
        import base64

        payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        self.token = f"e30.{payload}.c2lnbmF0dXJl"
        self.scopes: list = []

    def get_token(self, *scopes: str, **kwargs: object) -> _FakeToken:
        self.scopes.extend(scopes)
        return _FakeToken(self.token)


class SampleHelpersTest(OfflineProject):
    """The helpers the VM, Key Vault and template samples build on."""

    def test_token_claims_name_the_service_principal(self) -> None:
        cred = _FakeCredential({"oid": "33333333-3333-3333-3333-333333333333", "tid": "t"})
        self.assertEqual(azure_stack.token_claims(cred.token)["oid"], "33333333-3333-3333-3333-333333333333")
        self.assertEqual(azure_stack.token_claims("not a token"), {})

    def test_the_object_id_comes_from_the_file_before_the_token(self) -> None:
        config = azure_stack.load_config(self.dir)
        cred = _FakeCredential({"oid": "from-token"})
        self.assertEqual(azure_stack.service_principal_object_id(config, cred), "from-token")
        self.assertEqual(cred.scopes, [config.credential_scope])
        self.sp["objectId"] = "from-file"
        self.write_sp()
        self.assertEqual(azure_stack.service_principal_object_id(azure_stack.load_config(self.dir), cred), "from-file")
        with self.assertRaisesRegex(azure_stack.ConfigError, "objectId"):
            azure_stack.service_principal_object_id(config, _FakeCredential({}))

    def test_the_secret_client_sends_the_projects_data_plane_version_and_checks_the_challenge(self) -> None:
        try:
            import azure.keyvault.secrets  # noqa: F401
        except ImportError:
            self.skipTest("the key_vault sample is not part of this project")
        config = azure_stack.load_config(self.dir)
        stack = json.loads((ROOT / "stack.json").read_text())
        self.assertEqual(config.keyvault_data_api_version, stack["keyVaultDataApiVersion"])
        secrets = azure_stack.secret_client(config, "https://vault.example/", _FakeCredential({}))
        self.assertEqual(secrets.api_version, stack["keyVaultDataApiVersion"])
        policies = secrets._client._client._pipeline._impl_policies
        challenge = [p for p in policies if hasattr(p, "_verify_challenge_resource")]
        # The SDK's guard against sending a token to a vault URL that points elsewhere is never turned off.
        self.assertTrue(challenge and challenge[0]._verify_challenge_resource)

    def test_a_refused_action_names_who_what_where_and_the_role_to_ask_for(self) -> None:
        message = ("The client 'c1' with object id 'o1' does not have authorization to perform action "
                   "'Microsoft.Storage/storageAccounts/write' over scope '/subscriptions/s/resourcegroups/rg' or the scope is "
                   "invalid. If access was recently granted, please refresh your credentials.")
        line = azure_stack.refused_action(message)
        self.assertIn("service principal c1 may not Microsoft.Storage/storageAccounts/write on /subscriptions/s/resourcegroups/rg", line)
        self.assertIn("ask the Stack operator for Contributor", line)
        self.assertEqual(azure_stack.role_granting("Microsoft.Authorization/roleAssignments/write"),
                         "Owner (or User Access Administrator)")
        self.assertEqual(azure_stack.role_granting("Microsoft.Resources/subscriptions/resourceGroups/read"), "Reader")

    @unittest.skipIf(os.name == "nt", "POSIX permissions")
    def test_the_ssh_key_is_private_and_made_once(self) -> None:
        import stat

        folder = self.dir / ".ssh"
        private, public = azure_stack.ssh_key_pair(folder)
        self.assertEqual(stat.S_IMODE(private.stat().st_mode), 0o600)
        self.assertTrue(public.startswith("ssh-rsa "))
        self.assertEqual(azure_stack.ssh_key_pair(folder), (private, public))
        (folder / "azs_sample_vm.pub").unlink()  # the public half is derived again from the private key
        self.assertEqual(azure_stack.ssh_key_pair(folder)[1], public)


if __name__ == "__main__":
    unittest.main()
