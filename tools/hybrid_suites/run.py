"""``run``: Azure CLI's hybrid-profile scenario tests, live, against a fresh emulator per configuration.

What it does, in order, for each configuration (release + identity system) asked for:
1. az 2.66.0, the checkout's azure-cli-testsdk, pytest and pytest-timeout in one throw-away venv (uv; from the
   package index, reached without the emulator's proxy and with the machine's own trust);
2. ``azs-scaffold emulator serve --detach`` for that release and identity system (its state in the work folder);
3. az signed in as a Stack user is (Microsoft's "Connect to Azure Stack Hub with Azure CLI": cloud register, cloud
   set, the profile, a service principal login), trusting the Stack's root CA added to a bundle of its own (the
   public CAs plus the Stack's; never verification turned off);
4. each module's hybrid test folder, copied out of the checkout into a staging folder (their code stays theirs,
   outside this repository), run by pytest with ``AZURE_TEST_RUN_LIVE=True`` and a per-test timeout, writing junit
   XML as ``OUTPUT/<configuration>/<module>.xml`` (suite name ``<configuration>/<module>``, what ``classify`` reads);
5. the emulator stopped, the work folder (its secrets too) removed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tools.hybrid_suites import CONFIGURATIONS

AZURE_CLI = "azure-cli==2.66.0"
TESTSDK = Path("src/azure-cli-testsdk")
COMMAND_MODULES = Path("src/azure-cli/azure/cli/command_modules")
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy")
CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")
STAGE_CONFTEST = Path(__file__).with_name("stage_conftest.py")
ROOT = Path(__file__).resolve().parents[2]


class RunError(Exception):
    """A step of ``run`` failed: one line saying which and what to do."""


@dataclass(frozen=True)
class RunOptions:
    checkout: Path
    output: Path
    configurations: tuple[str, ...]
    modules: tuple[str, ...]
    test_timeout: int
    venv: Path | None
    keep: bool
    pytest_args: tuple[str, ...] = ()


def _step(message: str) -> None:
    print(f"[hybrid-suites {time.strftime('%H:%M:%S')}] {message}", flush=True)


def check_checkout(checkout: Path, modules: tuple[str, ...]) -> None:
    """The checkout has the testsdk and at least one hybrid folder of each module asked for."""
    if not (checkout / TESTSDK / "setup.py").is_file():
        raise RunError(f"{checkout} is not an azure-cli source checkout ({TESTSDK}/setup.py is missing): "
                       "give the top folder of a clone at azure-cli-2.66.0 or the nearest tag with hybrid test folders")
    for module in modules:
        tests = checkout / COMMAND_MODULES / module / "tests"
        if not any(tests.glob("hybrid_20*")):
            raise RunError(f"{tests} has no hybrid_* folder: the checkout is newer than the last release with Stack profiles")


def install_azure_cli(venv: Path, checkout: Path) -> Path:
    """az 2.66.0 + the checkout's testsdk + pytest in ``venv`` (kept when it already has them); its python."""
    python = venv / "bin" / "python"
    if (venv / "bin" / "az").exists() and subprocess.run([str(python), "-c", "import azure.cli.testsdk, pytest_timeout"],
                                                        capture_output=True).returncode == 0:
        return python
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(uv).exists():
        raise RunError("uv is not on PATH nor beside this Python: install it (pip install uv) and run again")
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}  # the index: the machine's own way there
    _step(f"installing {AZURE_CLI} and the checkout's azure-cli-testsdk into {venv}")
    subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(venv)], check=True, env=env)
    subprocess.run([uv, "pip", "install", "-q", "-p", str(python), AZURE_CLI, str(checkout / TESTSDK), "pytest", "pytest-timeout"],
                   check=True, env=env, timeout=1800)
    return python


class Emulator:
    """``azs-scaffold emulator serve --detach`` for one configuration, its info, and its stop."""

    def __init__(self, work: Path, release: str, identity: str) -> None:
        self.state = work / "emulator"
        self.info_file = work / "info.json"
        command = [sys.executable, "-m", "generator", "emulator", "serve", "--detach", "--release", release,
                   "--identity-system", identity, "--state-dir", str(self.state), "--info-file", str(self.info_file)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
        if result.returncode != 0:
            raise RunError(f"the emulator did not start: {result.stderr.strip().splitlines()[-1:]}")
        self.info = json.loads(self.info_file.read_text())

    def stop(self) -> None:
        subprocess.run([sys.executable, "-m", "generator", "emulator", "stop", "--state-dir", str(self.state)],
                       capture_output=True, timeout=120, cwd=ROOT)


def az_environment(work: Path, info: dict) -> dict[str, str]:
    """az's environment: its own config folder, the emulator's proxy, and trust that adds the Stack's root CA to the
    public CAs (the user's CA variables, when set, point at the same added-to bundle)."""
    bundle = work / "ca-bundle.pem"
    parts = [Path(info["public_ca_bundle"]).read_bytes(), Path(info["ca_cert"]).read_bytes()]
    if info.get("identity_ca_cert") and info["identity_ca_cert"] != info["ca_cert"]:
        parts.append(Path(info["identity_ca_cert"]).read_bytes())
    bundle.write_bytes(b"\n".join(part.rstrip(b"\n") for part in parts) + b"\n")
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}
    env.update({name: str(bundle) for name in CA_VARIABLES if name in os.environ})
    env.update(REQUESTS_CA_BUNDLE=str(bundle), HTTPS_PROXY=info["https_proxy"], NO_PROXY="127.0.0.1,localhost,::1",
               AZURE_CONFIG_DIR=str(work / "azure"), AZURE_CORE_COLLECT_TELEMETRY="false", AZURE_CORE_NO_COLOR="true",
               AZURE_CORE_ONLY_SHOW_ERRORS="true", AZURE_TEST_RUN_LIVE="True", AZS_HYBRID_REGION=info["location"])
    return env


def sign_in(python: Path, env: dict[str, str], info: dict, profile: str, work: Path) -> None:
    """Microsoft's documented steps for az on a Stack, as tests/test_azure_cli.py takes them; the secret from a file."""
    az = [str(python.with_name("az"))]
    graph = f"https://graph.{info['storage_suffix']}/" if info["identity_system"] == "adfs" else "https://graph.microsoft.com/"
    secret = work / "secret"
    secret.touch(mode=0o600)  # private before its first byte
    secret.write_text(info["client_secret"])
    steps = [
        ["cloud", "register", "-n", "AzureStackUser", "--endpoint-resource-manager", info["arm_endpoint"],
         "--suffix-storage-endpoint", info["storage_suffix"], "--suffix-keyvault-dns", f".{info['keyvault_dns_suffix']}"],
        ["cloud", "set", "-n", "AzureStackUser"],
        ["cloud", "update", "--cloud-config", json.dumps({"endpoints": {"microsoftGraphResourceId": graph}})],
        ["cloud", "update", "--profile", profile],
        ["login", "--service-principal", "-u", info["client_id"], f"--password=@{secret}", "--tenant", info["tenant_id"]],
    ]
    for step in steps:
        result = subprocess.run([*az, *step, "-o", "none"], env=env, capture_output=True, text=True, timeout=300,
                                stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise RunError(f"az {' '.join(step[:2])} failed: {result.stderr.strip().splitlines()[-1:]}")
    secret.unlink()


def stage(checkout: Path, module: str, folder: str, stage_root: Path) -> Path | None:
    """The module's hybrid folder copied under ``stage_root/azcli_<module>/`` with the module's shared test helpers
    (a package of its own, so that their relative imports resolve and nothing shadows the installed az); None when
    the checkout has no such folder for this profile."""
    tests = checkout / COMMAND_MODULES / module / "tests"
    if not (tests / folder).is_dir():
        return None
    package = stage_root / f"azcli_{module}"
    package.mkdir(parents=True, exist_ok=True)
    for helper in tests.glob("*.py"):
        shutil.copy2(helper, package / helper.name)
    (package / "__init__.py").touch()
    shutil.copytree(tests / folder, package / folder, ignore=shutil.ignore_patterns("recordings", "__pycache__"), dirs_exist_ok=True)
    (package / folder / "__init__.py").touch()
    shutil.copy2(STAGE_CONFTEST, stage_root / "conftest.py")
    (stage_root / "pytest.ini").write_text("[pytest]\n")
    return package / folder


def run_module(python: Path, env: dict[str, str], tests: Path, suite: str, junit: Path, log: Path, options: RunOptions,
               secret: str) -> None:
    junit.parent.mkdir(parents=True, exist_ok=True)
    command = [str(python), "-m", "pytest", str(tests), "-c", str(tests.parents[1] / "pytest.ini"), "-p", "no:cacheprovider",
               "-q", "-rN", f"--timeout={options.test_timeout}", f"--junitxml={junit}", "-o", f"junit_suite_name={suite}",
               *options.pytest_args]
    _step(f"{suite}: pytest {tests.relative_to(tests.parents[1])} (log: {log})")
    with log.open("w") as out:
        subprocess.run(command, env={**env, "AZS_HYBRID_PROGRESS": str(log.with_suffix(".failures"))}, stdout=out,
                       stderr=subprocess.STDOUT, cwd=tests.parents[1], stdin=subprocess.DEVNULL)
    for path in (junit, log, log.with_suffix(".failures")):  # the secret never leaves the work folder, should a test print it
        if path.exists():
            text = path.read_text(errors="replace")
            if secret in text:
                path.write_text(text.replace(secret, "***"))


def run(options: RunOptions) -> int:
    checkout = options.checkout.resolve()
    check_checkout(checkout, options.modules)
    work_root = Path(tempfile.mkdtemp(prefix="azs-hybrid-"))  # 0700: it holds the emulator's keys and az's tokens
    try:
        python = install_azure_cli(options.venv or work_root / "venv", checkout)
        for name in options.configurations:
            release, identity, profile, folder = CONFIGURATIONS[name]
            work = work_root / name
            work.mkdir()
            _step(f"{name}: starting the emulator ({release}, {identity})")
            emulator = Emulator(work, release, identity)
            try:
                env = az_environment(work, emulator.info)
                sign_in(python, env, emulator.info, profile, work)
                for module in options.modules:
                    tests = stage(checkout, module, folder, work / "stage")
                    if tests is None:
                        _step(f"{name}/{module}: the checkout has no {folder} folder for it, skipped")
                        continue
                    out = options.output / name
                    out.mkdir(parents=True, exist_ok=True)
                    run_module(python, env, tests, f"{name}/{module}", out / f"{module}.xml", out / f"{module}.log", options,
                               emulator.info["client_secret"])
            finally:
                emulator.stop()
    finally:
        if options.keep:
            _step(f"work folder kept: {work_root}")
        else:
            shutil.rmtree(work_root, ignore_errors=True)
    _step(f"done: classify with  python -m tools.hybrid_suites classify {options.output}")
    return 0
