"""Offline checks of the helper package samples/azure_stack/: settings, trust, the JSON reader, the client factory.

    .venv/bin/python -m unittest discover -s tests -t .
"""

from __future__ import annotations

import contextlib
import io
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
        if (ROOT / "certs").is_dir():  # the Stack's root CA, which stack.json names
            shutil.copytree(ROOT / "certs", self.dir / "certs")
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
        # Private from its first byte, as the real file is: no "readable by others" warning in the test's output.
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            handle.write(json.dumps(self.sp))
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
        printed = io.StringIO()
        with contextlib.redirect_stderr(printed):  # the warning is this test's subject: kept out of the run's output
            config = azure_stack.load_config(self.dir)
        self.assertTrue(any("chmod 600" in w for w in config.warnings))
        self.assertIn(f"warning: {azure_stack.SECRET_FILE} is readable by others; run: chmod 600", printed.getvalue())

    def test_a_clone_without_the_service_principal_file_is_told_what_to_do(self) -> None:
        (self.dir / azure_stack.SECRET_FILE).unlink()
        shutil.copy(ROOT / ".copier-answers.yml", self.dir / ".copier-answers.yml")
        with self.assertRaises(azure_stack.ConfigError) as caught:
            azure_stack.load_config(self.dir)
        self.assertRegex(str(caught.exception), r"is missing .*git-ignored.*create it, private \(chmod 600 .*clientId")
        self.assertIn("ask whoever generated the project", str(caught.exception))
        # A project whose service principal signs in with a certificate: that file, with its keys.
        (self.dir / ".copier-answers.yml").write_text("auth_method: certificate\nclient_id: 33333333-3333-3333-3333-333333333333\n"
                                                      "certificate_path: certs/sp.pem\n")
        with self.assertRaises(azure_stack.ConfigError) as caught:
            azure_stack.load_config(self.dir)
        self.assertIn(f"{azure_stack.CERT_FILE} is missing", str(caught.exception))
        self.assertIn('{"clientId": "33333333-3333-3333-3333-333333333333", "certPath": "certs/sp.pem", "certPass": ',
                      str(caught.exception))


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


class TrustTest(OfflineProject):
    """The project's CA bundle adds to what the user's CA variables name; no variable replaces it."""

    def setUp(self) -> None:
        super().setUp()
        import certifi

        self.saved = {name: os.environ.pop(name, None) for name in azure_stack.USER_BUNDLE_VARIABLES}
        self.addCleanup(self.restore)
        self.certifi_blocks = _blocks(Path(certifi.where()).read_text())
        self.root = self.certificate("stack-root")
        self.user = self.certificate("corporate-proxy")
        (self.dir / "certs").mkdir(exist_ok=True)
        (self.dir / "certs" / "azure-stack-root.pem").write_text(self.root)
        stack = json.loads((self.dir / "stack.json").read_text())
        (self.dir / "stack.json").write_text(json.dumps({**stack, "caCert": "certs/azure-stack-root.pem"}))
        (self.dir / "corporate.pem").write_text(self.user)

    def restore(self) -> None:
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def certificate(self, name: str) -> str:
        import datetime

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now)
                .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    def test_the_bundle_holds_certifi_the_stacks_root_and_the_users_bundle(self) -> None:
        for name in azure_stack.USER_BUNDLE_VARIABLES:
            os.environ[name] = str(self.dir / "corporate.pem")
        config = azure_stack.load_config(self.dir)
        text = Path(azure_stack.stack_bundle(config)).read_text()
        bundle = _blocks(text)
        self.assertIn(_flat(self.root), bundle)
        self.assertIn(_flat(self.user), bundle)
        self.assertTrue(self.certifi_blocks <= bundle)
        self.assertEqual(text.count("-----BEGIN CERTIFICATE-----"), len(bundle))  # each certificate once
        # bootstrap's bundle in the venv holds the bundles the user's CA variables named then (PIP_CERT's, say): kept too
        import sys

        from samples.azure_stack.trust import BUNDLE_NAME

        installed = Path(sys.prefix) / BUNDLE_NAME
        bootstrapped = _blocks(installed.read_text()) if installed.is_file() else set()
        self.assertEqual(len(bundle), len(self.certifi_blocks | bootstrapped | {_flat(self.root), _flat(self.user)}))  # each once

    def test_every_client_is_handed_the_bundle(self) -> None:
        os.environ["REQUESTS_CA_BUNDLE"] = str(self.dir / "corporate.pem")
        from azure.mgmt.resource import ResourceManagementClient

        config = azure_stack.load_config(self.dir)
        bundle = azure_stack.stack_bundle(config)
        resources = azure_stack.client(ResourceManagementClient, config, _FakeCredential({}))
        self.assertEqual(resources._client._pipeline._transport.connection_config.verify, bundle)
        cred = azure_stack.credential(config)
        self.assertEqual(cred._client._pipeline._transport.connection_config.verify, bundle)

    def test_an_unreadable_user_bundle_is_passed_over_with_a_warning(self) -> None:
        import contextlib
        import io

        os.environ["SSL_CERT_FILE"] = str(self.dir / "no-such-bundle.pem")
        said = io.StringIO()
        with contextlib.redirect_stderr(said):
            bundle = _blocks(Path(azure_stack.stack_bundle(azure_stack.load_config(self.dir))).read_text())
        self.assertIn("no-such-bundle.pem cannot be read", said.getvalue())
        self.assertIn(_flat(self.root), bundle)


class ReadJsonTest(OfflineProject):
    def test_only_a_regular_file_of_bounded_size_is_read(self) -> None:
        with self.assertRaisesRegex(azure_stack.ConfigError, "is not a regular file"):
            azure_stack.read_json(self.dir, "template")
        if hasattr(os, "mkfifo"):
            os.mkfifo(self.dir / "pipe.json")
            with self.assertRaisesRegex(azure_stack.ConfigError, "is not a regular file"):
                azure_stack.read_json(self.dir / "pipe.json", "template")  # never waits for a writer
        (self.dir / "big.json").write_text("[" + "0," * 100 + "0]")
        with self.assertRaisesRegex(azure_stack.ConfigError, "larger than the 100 this project reads"):
            azure_stack.read_json(self.dir / "big.json", "template", largest=100)
        (self.dir / "list.json").write_text("[1]")
        with self.assertRaisesRegex(azure_stack.ConfigError, "the template .*list.json must hold a JSON object"):
            azure_stack.read_json(self.dir / "list.json", "template")
        self.assertEqual(azure_stack.read_json(self.dir / "stack.json")["knownProfile"],
                         json.loads((ROOT / "stack.json").read_text())["knownProfile"])


def _flat(pem: str) -> str:
    return "".join(pem.split())


def _blocks(text: str) -> set[str]:
    import re

    return {_flat(block) for block in re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", text, re.DOTALL)}


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
