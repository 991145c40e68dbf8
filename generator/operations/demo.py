"""``azs-scaffold demo``: the whole flow against the built-in emulator, step by step."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from generator.errors import ScaffoldError

# Trust must come from the project's own bootstrap, as it will on a user's machine. (SSL_CERT_FILE stays:
# requests ignores it, and uv needs it where a proxy re-signs the package index's certificate.)
_CA_OVERRIDES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def _step(number: int, total: int, title: str, action: Callable[[], str | None]) -> None:
    print(f"\n==> [{number}/{total}] {title}", flush=True)
    started = time.monotonic()
    detail = action()
    print(f"    ok ({time.monotonic() - started:.1f} s){': ' + detail if detail else ''}", flush=True)


def _run_in(project: Path, *command: str) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k not in _CA_OVERRIDES}
    result = subprocess.run(command, cwd=project, env=env)
    if result.returncode != 0:
        raise ScaffoldError(f"demo: `{' '.join(command)}` failed in {project} (exit {result.returncode}); see its output above")


def run_demo(destination: str | None = None, release: str = "2108", identity_system: str = "azure_ad",
             template: str | None = None, vcs_ref: str | None = None) -> int:
    """Emulator -> generated project -> bootstrap -> provider registration -> resource group sample.

    Without ``destination`` the project goes to a new folder in the temporary directory: never into
    the checkout the tool may run from (copier would find it dirty), and a second run works too.
    """
    import tempfile

    from azs_emulator import Emulator, EmulatorConfig
    from azs_emulator.proxy import through_proxy
    from azs_emulator.venv_trust import stand_in_ca_of_info, trust_in_venv
    from generator.discovery import DiscoveryRequest
    from generator.operations.emulator_control import no_proxy_for
    from generator.operations.render import NewProject, check_destination, run_new
    from generator.templating.template_source import resolve_template

    resolve_template(template, vcs_ref)  # a missing template fails before the emulator starts
    project = check_destination(destination) if destination else Path(tempfile.mkdtemp(prefix="azs-demo-")) / "azs-demo"
    python = str(project / (".venv/Scripts/python.exe" if sys.platform == "win32" else ".venv/bin/python"))
    total = 5
    with Emulator(EmulatorConfig(release=release, identity_system=identity_system, registration_delay=1.0)) as emulator, \
            through_proxy(emulator.info()["https_proxy"], no_proxy=no_proxy_for()):
        info = emulator.info()
        print(f"==> [1/{total}] Emulator: Azure Stack Hub {release} ({identity_system}) at {info['arm_endpoint']}")

        def generate() -> str:
            request = NewProject(
                destination=str(project),
                discovery=DiscoveryRequest.for_emulator(info),
                project_name="azs-demo",
                template=template,
                vcs_ref=vcs_ref,
            )
            _, found = run_new(request, progress=lambda message: print(f"    {message}", flush=True))
            return f"profile {found.profile}"

        _step(2, total, f"Generating the project in {project}", generate)
        def bootstrap() -> str | None:
            _run_in(project, sys.executable, "scripts/bootstrap.py")
            stand_in = stand_in_ca_of_info(info)
            # A real certifi already trusts the CA of login.microsoftonline.com; the emulator's stand-in needs this step.
            return trust_in_venv(python, stand_in) if stand_in else None

        _step(3, total, "Bootstrap: .venv, pinned packages, trust the Stack's root CA", bootstrap)
        _step(4, total, "Registering resource providers", lambda: _run_in(project, python, "register_providers.py"))
        _step(5, total, "Running the resource group sample", lambda: _run_in(project, python, "samples/resource_groups.py"))
    print(f"\nDone: the emulator is stopped; the project stays in {project}.")
    print("Point it at a real Stack with: azs-scaffold new DEST --arm-endpoint https://management.<region>.<fqdn> ...")
    return 0
