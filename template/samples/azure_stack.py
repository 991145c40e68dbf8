"""Load this project's Stack settings and build credentials and management clients for them.

Every sample and ``register_providers.py`` goes through here, so the Stack-specific details live in
one place: the Resource Manager ``base_url``, the token scope (``credential_scopes``), the API
profile, the ADFS tenant and authority host, and instance discovery.

Settings come from two files: ``stack.json`` (what azs-scaffold discovered; regenerated on upgrade)
and the service principal file, ``azureSecretSpConfig.json`` or ``azureCertSpConfig.json`` (yours;
never regenerated). ``AZURE_CLIENT_SECRET`` stands in for an empty ``clientSecret``.

Run it to check the settings: ``python samples/azure_stack.py``.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable

ROOT = Path(__file__).resolve().parent.parent
SECRET_FILE = "azureSecretSpConfig.json"
CERT_FILE = "azureCertSpConfig.json"
SECRET_ENV = "AZURE_CLIENT_SECRET"
# Names a settings overlay written by `azs-scaffold emulator --for-project .`: the project then talks to
# that emulator, and its service principal file and certs/ are not read at all.
OVERLAY_ENV = "AZS_EMULATOR_OVERLAY"
# Variables that make requests (and so the SDK) trust another bundle than the venv's certifi. (SSL_CERT_FILE
# does not: requests hands OpenSSL certifi's bundle itself; uv and other tools read it, so it may stay.)
CA_OVERRIDES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
_SP_KEYS = ("clientId", "subscriptionId", "tenantId", "resourceManagerEndpointUrl", "location")


def _require_the_sdk() -> None:
    """Stop in one line when this Python lacks the project's packages (a sample run with the system's python3)."""
    import importlib.util

    try:
        found = importlib.util.find_spec("azure.identity") is not None
    except ImportError:
        found = False
    if not found:
        venv_python = ".venv\\Scripts\\python.exe" if os.name == "nt" else ".venv/bin/python"
        sys.exit(f"error: {sys.executable} has not got this project's packages (azure-identity is missing); run samples "
                 f"with the project's venv, as in: {venv_python} {Path(sys.argv[0]).as_posix() if sys.argv[0] else 'samples/<name>.py'} "
                 "(no .venv yet? make it with: python scripts/bootstrap.py)")


_require_the_sdk()
_SECRETS: set[str] = set()  # every secret this process read, for redact()


def remember(secret: str | None) -> str | None:
    """Note ``secret`` for :func:`redact`; returns it unchanged."""
    if secret and len(secret) >= 4:
        _SECRETS.add(secret)
    return secret


def _spellings(secret: str) -> set[str]:
    # As posted in a form (percent-encoded either way), JSON-escaped, and base64 at each of its three alignments.
    import base64
    from urllib.parse import quote, quote_plus

    spellings = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    for offset in range(3):
        core = base64.b64encode(b"\0" * offset + secret.encode()).decode()[4 if offset else 0:].rstrip("=")
        spellings |= {core, core.replace("+", "-").replace("/", "_")}
    return {s for s in spellings if s}


def redact(text: str) -> str:
    """``text`` with every remembered secret blanked out: also its encoded spellings, in any letter case, and any run
    of half of one of them or more (a server may quote a part)."""
    import re

    spans = []
    for secret in _SECRETS:
        for spelling in _spellings(secret):
            size = min(len(spelling), max(6, len(spelling) // 2))
            windows = sorted({spelling[i:i + size] for i in range(len(spelling) - size + 1)})
            pattern = re.compile("|".join(map(re.escape, windows)), re.IGNORECASE)
            start = 0
            while match := pattern.search(text, start):
                spans.append(match.span())
                start = match.start() + 1
    merged: list[list[int]] = []
    for begin, end in sorted(spans):
        if merged and begin <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    for begin, end in reversed(merged):
        text = text[:begin] + "[redacted]" + text[end:]
    return text


class ConfigError(Exception):
    """The project's settings are missing or wrong; the message says which and what to do."""


@dataclass
class StackConfig:
    """Everything needed to talk to the Stack (secrets are kept out of repr)."""

    client_id: str
    subscription_id: str
    tenant_id: str
    resource_manager: str
    location: str
    authority_host: str
    credential_scope: str
    disable_instance_discovery: bool
    known_profile: str
    api_versions: dict[str, str]  # client -> the api-version the profile gives it
    providers: list[str]
    keyvault_data_api_version: str = "2016-10-01"  # Key Vault's data plane: no profile covers it
    storage_data_api_version: str = "2019-07-07"  # the storage data plane (blobs): no profile covers it either
    object_id: str | None = None  # the service principal's object id, when the service principal file names it
    client_secret: str | None = field(default=None, repr=False)
    certificate_path: str | None = None
    certificate_password: str | None = field(default=None, repr=False)
    warnings: list[str] = field(default_factory=list)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path.name} is missing; regenerate the project or restore the file") from None
    except ValueError as exc:
        raise ConfigError(f"{path.name} is not valid JSON ({exc}); fix or restore it") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name} must hold a JSON object")
    return data


def _require(data: dict[str, Any], keys: tuple[str, ...], source: str) -> None:
    missing = [k for k in keys if not isinstance(data.get(k), str) or not data[k].strip()]
    if missing:
        raise ConfigError(f"{source} lacks {', '.join(missing)}; add the key(s) and run again")


def _emulator_config(stack: dict[str, Any], overlay_path: Path) -> StackConfig:
    overlay = _read_json(overlay_path)
    _require(overlay, (*_SP_KEYS, "clientSecret", "authorityHost", "credentialScope"), f"{OVERLAY_ENV} file {overlay_path}")
    if overlay.get("httpsProxy"):
        use_emulator_proxy(overlay["httpsProxy"])
    return StackConfig(
        client_id=overlay["clientId"], subscription_id=overlay["subscriptionId"], tenant_id=overlay["tenantId"],
        resource_manager=overlay["resourceManagerEndpointUrl"], location=overlay["location"],
        authority_host=overlay["authorityHost"], credential_scope=overlay["credentialScope"],
        disable_instance_discovery=bool(overlay.get("disableInstanceDiscovery", True)),
        known_profile=stack["knownProfile"], api_versions=dict(stack.get("apiVersions", {})),
        providers=list(stack.get("providers", [])),
        keyvault_data_api_version=stack.get("keyVaultDataApiVersion") or "2016-10-01",
        storage_data_api_version=stack.get("storageDataApiVersion") or "2019-07-07",
        client_secret=remember(overlay["clientSecret"]),
    )


def use_emulator_proxy(proxy: str) -> None:
    """Send this process's requests through the emulator's proxy, which maps the emulated Stack's names (only this
    process's: package installs never go through it)."""
    for name in ("NO_PROXY", "no_proxy", "https_proxy"):
        os.environ.pop(name, None)
    os.environ["HTTPS_PROXY"] = proxy


def load_config(root: Path = ROOT) -> StackConfig:
    """Read ``stack.json`` and the service principal file under ``root`` (or, when ``AZS_EMULATOR_OVERLAY``
    names one, the emulator's overlay instead of the service principal file)."""
    stack = _read_json(root / "stack.json")
    if os.environ.get(OVERLAY_ENV):
        return _emulator_config(stack, Path(os.environ[OVERLAY_ENV]))
    secret_path, cert_path = root / SECRET_FILE, root / CERT_FILE
    sp_path = cert_path if cert_path.exists() and not secret_path.exists() else secret_path
    sp = _read_json(sp_path)
    _require(sp, _SP_KEYS, sp_path.name)
    warnings = []
    if os.name != "nt" and stat.S_IMODE(sp_path.stat().st_mode) & 0o077:
        warnings.append(f"{sp_path.name} is readable by others; run: chmod 600 {sp_path.name}")
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    config = StackConfig(
        client_id=sp["clientId"],
        subscription_id=sp["subscriptionId"],
        tenant_id=sp["tenantId"],
        resource_manager=sp["resourceManagerEndpointUrl"],
        location=sp["location"],
        authority_host=stack["authorityHost"],
        credential_scope=stack["credentialScope"],
        disable_instance_discovery=bool(stack.get("disableInstanceDiscovery", True)),
        known_profile=stack["knownProfile"],
        api_versions=dict(stack.get("apiVersions", {})),
        providers=list(stack.get("providers", [])),
        keyvault_data_api_version=stack.get("keyVaultDataApiVersion") or "2016-10-01",
        storage_data_api_version=stack.get("storageDataApiVersion") or "2019-07-07",
        object_id=sp.get("objectId") or None,
        warnings=warnings,
    )
    if sp_path.name == CERT_FILE:
        _require(sp, ("certPath",), sp_path.name)
        certificate = Path(sp["certPath"])
        config.certificate_path = str(certificate if certificate.is_absolute() else root / certificate)
        config.certificate_password = remember(sp.get("certPass") or None)
    else:
        config.client_secret = remember(sp.get("clientSecret") or os.environ.get(SECRET_ENV) or None)
        if not config.client_secret:
            raise ConfigError(f"no client secret: set clientSecret in {SECRET_FILE} or the {SECRET_ENV} environment variable")
    return config


def credential(config: StackConfig) -> Any:
    """An azure-identity credential for the service principal, set up for this Stack."""
    from azure.identity import CertificateCredential, ClientSecretCredential

    options = {"authority": config.authority_host, "disable_instance_discovery": config.disable_instance_discovery,
               "transport": transport()}
    if config.certificate_path:
        password = config.certificate_password.encode() if config.certificate_password else None
        return CertificateCredential(config.tenant_id, config.client_id, config.certificate_path, password=password, **options)
    return ClientSecretCredential(config.tenant_id, config.client_id, config.client_secret, **options)


def _venv_name() -> str:
    """The folder of the venv this runs in (``.venv``, or ``.venv-emulator`` under scripts/test_against_emulator.py)."""
    return Path(sys.prefix).name if sys.prefix != sys.base_prefix else ".venv"


def tls_diagnosis(sign_in: bool = False) -> str:
    """Why TLS to the Stack (or, with ``sign_in``, to its sign-in host) failed, naming every variable that replaces
    the venv's trust at once."""
    venv = _venv_name()
    overrides = [f"{name}={os.environ[name]}" for name in CA_OVERRIDES if os.environ.get(name)]
    if overrides:
        names = ", ".join(name for name in CA_OVERRIDES if os.environ.get(name))
        return (f"TLS verification failed: {'; '.join(overrides)} replace{'s' if len(overrides) == 1 else ''} the bundle "
                f"bootstrap trusts; unset {names}, or add certs/azure-stack-root.pem to {'that file' if len(overrides) == 1 else 'those files'}")
    if sign_in:
        return (f"TLS verification of the sign-in host failed: {venv}'s certifi does not trust its CA. An ADFS Stack's "
                "sign-in host is on the Stack's root: run python scripts/bootstrap.py again. Azure AD's chains to a public CA "
                "certifi holds: reinstall certifi, then bootstrap. Against azs-scaffold's emulator (Azure AD), trust its "
                f"stand-in public CA: azs-scaffold emulator trust --python {venv}/bin/python --info-file INFO")
    return (f"TLS verification failed: the Stack's root CA is not trusted in {venv}; run python scripts/bootstrap.py again "
            "(pip install -U certifi replaces the bundle)")


def bounded_retry_policy(longest_wait: float) -> Any:
    """azure-core's retry policy, except that a Retry-After longer than ``longest_wait`` is waited that long
    at most (a Stack under load may ask for an hour; the caller's --timeout decides instead)."""
    from azure.core.pipeline.policies import RetryPolicy

    class _BoundedRetry(RetryPolicy):
        def get_retry_after(self, response: Any) -> Any:
            wait = super().get_retry_after(response)
            return None if wait is None else min(wait, longest_wait)

    return _BoundedRetry(retry_total=3)


# Requests on the wire: (host, when sent) by request. While run() runs a sample, a watcher names any request left
# unanswered for a while, so that a hung Stack shows as such instead of a silent terminal.
_IN_FLIGHT: dict[int, tuple[str, float]] = {}
# The longest a connection may take to open, and an answer to start arriving, before azure-core retries.
CONNECT_TIMEOUT, READ_TIMEOUT = 20.0, 60.0


def transport() -> Any:
    """An azure-core transport for one client: bounded connect and read waits, and each request noted while on the
    wire (for the notices of :func:`waiting_notices`)."""
    import time
    from urllib.parse import urlsplit

    from azure.core.pipeline.transport import RequestsTransport

    class _WatchedTransport(RequestsTransport):
        def send(self, request: Any, **kwargs: Any) -> Any:
            key = id(request)
            _IN_FLIGHT[key] = (urlsplit(request.url).hostname or request.url, time.monotonic())
            try:
                return super().send(request, **kwargs)
            finally:
                _IN_FLIGHT.pop(key, None)

    return _WatchedTransport(connection_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT)


class waiting_notices:
    """While active, every ``every`` seconds, name the host a request has waited on longer than ``every``."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every

    def __enter__(self) -> waiting_notices:
        import threading
        import time

        self._stop = threading.Event()

        def watch() -> None:
            said = 0.0
            while not self._stop.wait(1.0):
                now = time.monotonic()
                waiting = [(host, now - sent) for host, sent in list(_IN_FLIGHT.values())]
                host, waited = max(waiting, key=lambda item: item[1], default=("", 0.0))
                if waited >= self.every and now - said >= self.every:
                    said = now
                    print(f"  still waiting for an answer from {host} ({waited:.0f} s; each try gives up after "
                          f"{READ_TIMEOUT:.0f} s)", flush=True)

        self._thread = threading.Thread(target=watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()


class heartbeat:
    """While a slow call runs, say every ``every`` seconds that it still runs (and for how long)."""

    def __init__(self, what: str, every: float = 3.0) -> None:
        self.what, self.every = what, every

    def __enter__(self) -> heartbeat:
        import threading
        import time

        self._stop = threading.Event()
        started = time.monotonic()

        def beat() -> None:
            while not self._stop.wait(self.every):
                print(f"  still {self.what} ({time.monotonic() - started:.0f} s)", flush=True)

        self._thread = threading.Thread(target=beat, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def client(cls: type, config: StackConfig, cred: Any = None, longest_retry_wait: float = 30.0) -> Any:
    """A management client of ``cls`` for this Stack: its endpoint, token scope and API profile.

    A client the profile does not cover gets ``api_version=`` from ``stack.json`` instead (the SDK
    refuses both at once). Retries follow azure-core's policy with Retry-After capped at
    ``longest_retry_wait`` seconds.
    """
    from azure.profiles import KnownProfiles

    options: dict[str, Any] = {"base_url": config.resource_manager, "credential_scopes": [config.credential_scope],
                               "retry_policy": bounded_retry_policy(longest_retry_wait), "transport": transport()}
    options["profile"] = getattr(KnownProfiles, config.known_profile)
    cred = cred or credential(config)
    if cls.__name__ == "SubscriptionClient":
        return cls(cred, **options)
    return cls(cred, config.subscription_id, **options)


def secret_client(config: StackConfig, vault_uri: str, cred: Any = None, longest_retry_wait: float = 30.0) -> Any:
    """An azure-keyvault-secrets client for a vault of this Stack.

    No API profile covers Key Vault's data plane, so the api-version comes from ``stack.json`` (the SDK's
    default is global Azure's newest, which a Stack refuses). The SDK's challenge check stays on: the vault's
    host (``<vault>.vault.<region>.<fqdn>``) ends in the host of the challenge's resource
    (``https://vault.<region>.<fqdn>``), so a token is never sent to a vault URL that points elsewhere.
    """
    from azure.keyvault.secrets import SecretClient

    return SecretClient(vault_uri, cred or credential(config), api_version=config.keyvault_data_api_version,
                        retry_policy=bounded_retry_policy(longest_retry_wait), transport=transport())


def blob_service(config: StackConfig, account_url: str, account_name: str, account_key: str) -> Any:
    """An azure-storage-blob client for a storage account of this Stack, signing with the account's key (a Stack's
    blob service takes no Azure AD tokens). The service version comes from ``stack.json``: the SDK's default may be
    newer than a Stack serves. (Its own retry policy stays: it is the one that knows the storage hosts.)"""
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient(account_url, credential={"account_name": account_name, "account_key": account_key},
                             api_version=config.storage_data_api_version, transport=transport())


def token_claims(token: str) -> dict[str, Any]:
    """The claims of an access token (a JWT), unverified: for reading who the token names, never for trust."""
    import base64

    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def service_principal_object_id(config: StackConfig, cred: Any) -> str:
    """The service principal's object id, for access policies: ``objectId`` from its file, else the ``oid`` claim
    of its own Resource Manager token."""
    if config.object_id:
        return config.object_id
    object_id = token_claims(cred.get_token(config.credential_scope).token).get("oid")
    if not object_id:
        raise ConfigError("the Stack's tokens do not name the service principal's object id (oid); add \"objectId\" to "
                          "the service principal file (on ADFS: the ObjectId the Stack operator's Get-GraphApplication shows)")
    return str(object_id)


class temporary_resource_group:
    """A resource group for one sample run: a fresh name, created on entry, deleted on exit - also when a step
    fails - so that nothing a sample creates outlives it."""

    def __init__(self, resources: Any, config: StackConfig, purpose: str) -> None:
        import uuid

        self.resources, self.config = resources, config
        self.name = f"azs-sample-{purpose}-{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> str:
        self.resources.resource_groups.create_or_update(self.name, {"location": self.config.location,
                                                                    "tags": {"created-by": "azs-scaffold sample"}})
        print(f"Created resource group {self.name} in {self.config.location}")
        return self.name

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        print(f"Cleaning up: deleting resource group {self.name} and everything in it")
        try:
            with heartbeat(f"deleting {self.name}"):
                self.resources.resource_groups.begin_delete(self.name).result()
        except Exception as exc:  # the sample's own failure, if any, is the one to report
            print(f"warning: could not delete resource group {self.name} ({type(exc).__name__}); delete it by hand",
                  file=sys.stderr)
            if kind is None:
                raise
            return
        print(f"Deleted {self.name}")


def ssh_key_pair(folder: Path = ROOT / ".ssh", name: str = "azs_sample_vm") -> tuple[Path, str]:
    """An SSH key pair for sample VMs in a git-ignored folder of the project: (private key path, public key line).
    The private key file is created mode 0600 before its first byte is written, and never printed."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private_path, public_path = folder / name, folder / f"{name}.pub"
    folder.mkdir(mode=0o700, exist_ok=True)
    try:
        # RSA: the key type every Azure Stack Hub release accepts for Linux VMs.
        key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                           serialization.NoEncryption()))
    except FileExistsError:  # made by an earlier run: keep using it, if it is still private and readable
        key = _reused_private_key(private_path)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    line = f"{public} azs-scaffold-sample"
    if not public_path.exists():
        public_path.write_text(line + "\n", encoding="utf-8")
    return private_path, line


def _reused_private_key(path: Path) -> Any:
    """The private key an earlier run made at ``path``; refused in one line when it is a dangling link, unreadable,
    damaged, or readable by others (ssh itself refuses such a key)."""
    from cryptography.hazmat.primitives import serialization

    remedy = f"delete {path} and {path.name}.pub to have a new pair made"
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"the sample VM's SSH key {path} cannot be read ({exc.strerror or exc}); {remedy}") from None
    if os.name != "nt" and mode & 0o077:
        raise ConfigError(f"the sample VM's SSH key {path} is readable by others (mode {mode:04o}); run chmod 600 {path}, "
                          f"or {remedy}")
    try:
        return serialization.load_ssh_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"the sample VM's SSH key {path} is not an unencrypted OpenSSH private key ({exc}); {remedy}") from None


def begin_or_call(operations: Any, name: str, *args: Any) -> Any:
    """``operations.begin_<name>(...).result()`` where the profile's client has a long-running form, else
    ``operations.<name>(...)``: some api-versions made an operation long-running, and a profile picks one."""
    begin = getattr(operations, f"begin_{name}", None)
    return begin(*args).result() if begin is not None else getattr(operations, name)(*args)


def role_granting(action: str) -> str:
    """The least built-in role that grants ``action``: Reader for reads, Owner (or User Access Administrator) for
    Microsoft.Authorization's writes, Contributor for every other write."""
    lowered = action.lower()
    if lowered.endswith("/read"):
        return "Reader"
    if lowered.startswith("microsoft.authorization/"):
        return "Owner (or User Access Administrator)"
    return "Contributor"


def refused_action(message: str) -> str:
    """Resource Manager's 403 ``AuthorizationFailed`` in one line: who was refused what, where, and what to ask for."""
    import re

    action = re.search(r"perform action '([^']+)'", message)
    scope = re.search(r"over scope '([^']+)'", message)
    client = re.search(r"The client '([^']+)'", message)
    if not action:
        return f"Resource Manager answered AuthorizationFailed: {_one_line(message)}"
    who = f"the service principal {client.group(1)}" if client else "the service principal"
    where = scope.group(1) if scope else "its scope"
    return (f"{who} may not {action.group(1)} on {where}: ask the Stack operator for {role_granting(action.group(1))} "
            "on the subscription (or that scope)")


def _one_line(text: object) -> str:
    # Redacted before it is cut: a cut through a quoted secret could leave less of it than redaction recognises.
    return redact(" ".join(str(text).split()))[:400]


def _failure(exc: Exception) -> str:
    """The one line that says what failed, for an exception a sample's ``main`` raised."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    if "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return f"error: {tls_diagnosis(sign_in=isinstance(exc, ClientAuthenticationError))}"
    if isinstance(exc, ClientAuthenticationError):
        return f"error: sign-in failed: {_one_line(exc.message or exc)}"
    if isinstance(exc, HttpResponseError):
        code = exc.error.code if exc.error else exc.status_code
        if code == "AuthorizationFailed":
            return f"error: {refused_action(exc.error.message or '')}"
        storage_code = getattr(exc, "error_code", None)
        if exc.error is None and storage_code:  # the storage data plane answers in its own XML
            first = str(exc.message or exc.reason or "").strip().splitlines()[0:1]
            return f"error: the storage service answered {exc.status_code} {storage_code}: {_one_line(first[0] if first else '')}"
        message = exc.error.message if exc.error else exc.reason
        if code is None:  # no status and no body: the answer was cut off or unreadable
            return (f"error: the Resource Manager's answer could not be read ({type(exc).__name__}: "
                    f"{_one_line(exc.message or exc)}); run again, and check the network if it recurs")
        return f"error: Resource Manager answered {code}: {_one_line(message)}"
    return f"error: {type(exc).__name__}: {_one_line(exc)}"


def run(main: Callable[[], None]) -> None:
    """Run a sample's ``main``: one clear line and exit code 1 on a known failure, never a traceback, and never a
    word of the service principal's secret (an identity server may quote it back)."""
    import logging

    from azure.core.exceptions import AzureError

    # azure-identity logs a failure as a warning before raising it; report each failure once.
    logging.getLogger("azure").setLevel(logging.ERROR)
    try:
        with waiting_notices():
            main()
    except ConfigError as exc:
        sys.exit(redact(f"error: {exc}"))
    except AzureError as exc:
        sys.exit(redact(_failure(exc)))
    except KeyboardInterrupt:
        sys.exit("interrupted")
    except Exception as exc:  # e.g. MSAL's ValueError for a sign-in answer that is not JSON: one line, redacted
        sys.exit(redact(f"error: {type(exc).__name__}: {_one_line(exc)}"))


def _show() -> None:
    config = load_config()
    print(f"Resource Manager: {config.resource_manager}")
    print(f"Profile:          {config.known_profile}")
    print(f"Tenant:           {config.tenant_id} (authority {config.authority_host})")
    print(f"Subscription:     {config.subscription_id} in {config.location}")
    print(f"Signs in with:    {'certificate ' + config.certificate_path if config.certificate_path else 'client secret'}")


if __name__ == "__main__":
    try:
        _show()
    except ConfigError as exc:
        sys.exit(f"error: {exc}")
