"""Deploy every template of Microsoft's Azure Stack quickstart corpus (Azure/AzureStack-QuickStart-Templates) against
the built-in emulator, through the real Azure SDK, and sort what fails.

    python -m tools.quickstarts CORPUS [--release 2108|2008] [--jobs 4] [--only FOLDER ...] [--results FILE]
    python -m tools.quickstarts --classify FILE          (sort the failures of an earlier run again, deploying nothing)

CORPUS is a local checkout of the corpus (nothing is fetched). It starts ``azs-scaffold emulator`` (``python -m
generator emulator``) for the release on its own, reached through the emulator's HTTPS proxy under the Stack's names
with TLS verified against its CAs; deploys each folder's ``azuredeploy.json`` with its ``azuredeploy.parameters.json``
(placeholders filled: tools/quickstart_corpus.py) into a resource group of its own, several at once, with progress on
stderr; then classifies each failure by the rules of tools/quickstart_rules.py and prints a markdown table and the
failures per category on stdout. Exit status: 0 when every failure is one a Stack shares (the internet, an add-on, a
resource the team supplies, a refusal a Stack makes too), 1 when one is the emulator's own or matches no rule
(unclassified), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tools.quickstart_corpus import Secrets, Template, find_templates, load, new_secrets
from tools.quickstart_rules import CATEGORIES, DEPLOYED, classify, failing_categories

ROOT = Path(__file__).resolve().parent.parent
PROFILES = {"2108": "v2020_09_01_hybrid", "2008": "v2019_03_01_hybrid"}
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy")
DEPLOYMENT = "quickstart"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.quickstarts", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("corpus", nargs="?", type=Path, help="a local checkout of Azure/AzureStack-QuickStart-Templates")
    parser.add_argument("--release", choices=sorted(PROFILES), default="2108", help="the Stack release to emulate (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=4, help="deployments at once (default: %(default)s)")
    parser.add_argument("--only", action="append", default=[], metavar="FOLDER", help="deploy only this folder (repeatable)")
    parser.add_argument("--timeout", type=float, default=600, metavar="SECONDS", help="per deployment (default: %(default)s)")
    parser.add_argument("--supply", action="store_true",
                        help="first make what the team supplies for the templates that need it (tools/quickstart_supplies.py)")
    parser.add_argument("--results", type=Path, metavar="FILE", help="also write each template's outcome as JSON here")
    parser.add_argument("--classify", type=Path, metavar="FILE", help="classify a --results file of an earlier run; deploy nothing")
    args = parser.parse_args(argv)
    if (args.corpus is None) == (args.classify is None):
        parser.error("give a CORPUS to deploy, or --classify FILE")
    if args.corpus is not None and not (args.corpus.is_dir() and find_templates(args.corpus)):
        parser.error(f"{args.corpus} holds no azuredeploy.json: give a checkout of Azure/AzureStack-QuickStart-Templates")
    if args.jobs < 1:
        parser.error("--jobs takes a positive number")
    return args


def progress(message: str) -> None:
    print(f"quickstarts: {message}", file=sys.stderr, flush=True)


# -- the emulator ---------------------------------------------------------------------------------------------------

def start_emulator(release: str, scratch: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """``azs-scaffold emulator`` for ``release`` in a process of its own, and its connection facts (--info-file)."""
    info_file = scratch / "info.json"
    log = (scratch / "emulator.log").open("wb")
    command = [sys.executable, "-m", "generator", "emulator", "--stack-version", release, "--info-file", str(info_file),
               "--registration-delay", "0"]
    process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"quickstarts: the emulator exited ({process.returncode}); see {scratch / 'emulator.log'}")
        try:
            return process, json.loads(info_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            time.sleep(0.2)
    stop_emulator(process)
    raise SystemExit("quickstarts: the emulator did not start within 120 s")


def stop_emulator(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def resource_client(info: dict[str, Any], release: str) -> Any:
    """azure-mgmt-resource's client at the release's profile, signed in as the emulator's service principal: Resource
    Manager trusted by the Stack's root CA, sign-in by the public CAs (the stand-in for login.microsoftonline.com's)."""
    from azure.identity import ClientSecretCredential
    from azure.mgmt.resource import ResourceManagementClient
    from azure.profiles import KnownProfiles

    login = info["identity_endpoint"].rstrip("/")
    tenant, authority = ("adfs", login[: -len("/adfs")]) if info["identity_system"] == "adfs" else (info["tenant_id"], login)
    credential = ClientSecretCredential(tenant, info["client_id"], info["client_secret"], authority=authority,
                                        connection_verify=info["public_ca_bundle"], disable_instance_discovery=True)
    audience = _audience(info)
    return ResourceManagementClient(credential, info["subscription_id"], base_url=info["arm_endpoint"],
                                    credential_scopes=[f"{audience}/.default"], connection_verify=info["ca_cert"],
                                    profile=getattr(KnownProfiles, PROFILES[release]))


def _audience(info: dict[str, Any]) -> str:
    import requests

    answer = requests.get(f"{info['arm_endpoint']}metadata/endpoints?api-version=2015-01-01", verify=info["ca_cert"], timeout=30)
    answer.raise_for_status()
    return str(answer.json()["authentication"]["audiences"][0]).rstrip("/")


# -- deploying --------------------------------------------------------------------------------------------------------

def group_name(folder: str) -> str:
    """A short lower-case group name of letters and digits: templates build storage account names and DNS labels from
    ``resourceGroup().name`` (at most 24 lower-case letters and digits), as a team names its groups for them."""
    return "qs" + hashlib.sha256(folder.encode()).hexdigest()[:8]


def _deepest_error(error: Any) -> dict[str, str]:
    """The innermost error of an ARM error object (a deployment's ``DeploymentFailed`` holds the operation's)."""
    while isinstance(error, dict) and error.get("details"):
        error = error["details"][0]
    if not isinstance(error, dict):
        return {"code": "", "message": str(error)}
    return {"code": str(error.get("code", "")), "message": str(error.get("message", "")), "target": str(error.get("target") or "")}


def _error_of(exc: Any) -> dict[str, Any]:
    """The ARM error object an SDK exception carries (its body's ``error``), else its status and message."""
    try:
        body = exc.response.json()
    except Exception:  # noqa: BLE001 - not JSON: the SDK's own message says it
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return dict(body["error"])
    return {"code": str(getattr(exc, "status_code", "")), "message": str(getattr(exc, "message", exc))}


def _supplied(client: Any, template: Template, group: str, subscription: str, made: Secrets, location: str, timeout: float) -> None:
    """Make what the team supplies for ``template`` (its ``supply``) and give its parameters the team's values."""
    from tools.quickstart_supplies import filled

    supply = template.supply
    body: dict[str, Any] = {"$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
                            "contentVersion": "1.0.0.0", "parameters": {"password": {"type": "securestring"}}}
    for where, resources in ([supply.elsewhere] if supply.elsewhere else []) + [(group, supply.resources)]:
        if resources:
            client.resource_groups.create_or_update(where, {"location": location})
            made_first = {"properties": {"template": {**body, "resources": filled(list(resources), where, subscription)},
                                         "parameters": {"password": {"value": made.password}}, "mode": "Incremental"}}
            client.deployments.begin_create_or_update(where, "supplied", made_first).result(timeout=timeout)
    template.parameters = {**template.parameters, **filled(supply.parameters, group, subscription)}


def deploy(client: Any, template: Template, made: Secrets, location: str, timeout: float, subscription: str = "") -> dict[str, Any]:
    """Deploy one template into its own group (made new, deleted after); its outcome."""
    from azure.core.exceptions import HttpResponseError

    outcome: dict[str, Any] = {"folder": template.folder, "outcome": "failed", "seconds": 0.0, "changes": template.changes}
    if template.unreadable:
        return {**outcome, "code": "InvalidTemplate", "message": f"unreadable: {template.unreadable}"}
    group = (template.supply.group if template.supply is not None else "") or group_name(template.folder)
    started = time.monotonic()
    try:
        client.resource_groups.create_or_update(group, {"location": location})
        if template.supply is not None:
            outcome["supplied"] = template.supply.what
            _supplied(client, template, group, subscription, made, location, timeout)
        if template.first is not None:
            body = {"properties": {"template": template.first.template, "parameters": template.first.parameters, "mode": "Incremental"}}
            client.deployments.begin_create_or_update(group, "prerequisite", body).result(timeout=timeout)
        body = {"properties": {"template": template.template, "parameters": template.parameters, "mode": "Incremental"}}
        poller = client.deployments.begin_create_or_update(group, DEPLOYMENT, body)
        poller.result(timeout=timeout)
        if not poller.done():
            return {**outcome, "code": "Timeout", "message": f"not finished after {timeout:.0f} s"}
        state = client.deployments.get(group, DEPLOYMENT).properties
        if state.provisioning_state == "Succeeded":
            outcome["outcome"] = DEPLOYED
        else:
            outcome.update(_deepest_error(state.error.as_dict() if state.error else {}))
    except HttpResponseError as exc:
        error = _error_of(exc)
        try:  # a deployment that ran and failed holds its operation's error
            state = client.deployments.get(group, DEPLOYMENT).properties
            if state.error is not None:
                error = state.error.as_dict()
        except HttpResponseError:
            pass
        outcome.update(_deepest_error(error))
    finally:
        outcome["seconds"] = round(time.monotonic() - started, 1)
        elsewhere = [template.supply.elsewhere[0]] if template.supply is not None and template.supply.elsewhere else []
        for made_group in [group, *elsewhere]:
            try:
                client.resource_groups.begin_delete(made_group).result(timeout=timeout)
            except Exception:  # noqa: BLE001 - clean-up only; the outcome is what was asked
                pass
    outcome["message"] = made.redact(outcome.get("message", ""))
    return outcome


def with_supplies(corpus: Path, templates: list[Template], made: Secrets) -> None:
    """Give each template that needs what a team has its supply (and the corpus template a supply deploys first)."""
    from tools.quickstart_supplies import SUPPLIES

    for template in templates:
        supply = SUPPLIES.get(template.folder)
        if supply is None or template.unreadable:
            continue
        template.supply = supply
        if supply.first is not None:
            folder, values = supply.first
            template.first = load(corpus, folder, made)
            template.first.parameters = {**template.first.parameters, **values}
        template.changes = [*template.changes, f"supplied {supply.what}"]


def deploy_all(corpus: Path, release: str, jobs: int, only: list[str], timeout: float, supply: bool = False) -> list[dict[str, Any]]:
    folders = [f for f in find_templates(corpus) if not only or f in only]
    if only and len(folders) != len(set(only)):
        raise SystemExit(f"quickstarts: no such template folder: {', '.join(sorted(set(only) - set(folders)))}")
    made = new_secrets()
    templates = [load(corpus, folder, made) for folder in folders]
    if supply:
        with_supplies(corpus, templates, made)
    with tempfile.TemporaryDirectory(prefix="azs-quickstarts-") as scratch:
        progress(f"starting the emulator ({release})")
        process, info = start_emulator(release, Path(scratch))
        saved = {name: os.environ.pop(name) for name in _PROXY_VARIABLES if name in os.environ}
        os.environ.update(HTTPS_PROXY=info["https_proxy"], NO_PROXY="127.0.0.1,localhost,::1")
        try:
            local = threading.local()

            def one(template: Template) -> dict[str, Any]:
                if not hasattr(local, "client"):
                    local.client = resource_client(info, release)
                result = deploy(local.client, template, made, info["location"], timeout, info["subscription_id"])
                result["message"] = result["message"].replace(info["subscription_id"], "{subscription}")  # the same each run
                return result

            results = []
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = [pool.submit(one, template) for template in templates]
                for done, future in enumerate(as_completed(futures), 1):
                    result = future.result()
                    results.append(result)
                    said = "deployed" if result["outcome"] == DEPLOYED else f"failed: {result.get('code')}"
                    progress(f"[{done}/{len(templates)}] {result['folder']}: {said} ({result['seconds']} s)")
        finally:
            for name in _PROXY_VARIABLES:
                os.environ.pop(name, None)
            os.environ.update(saved)
            stop_emulator(process)
    return sorted(results, key=lambda r: r["folder"].lower())


# -- the report -------------------------------------------------------------------------------------------------------

def report(results: list[dict[str, Any]], release: str) -> str:
    """The markdown table (templates per outcome) and each failure by category, with its reason and evidence."""
    counts = {category: 0 for category in CATEGORIES}
    for result in results:
        counts[result["category"]] += 1
    supplied = sum(1 for r in results if r.get("supplied") and r["category"] == DEPLOYED)
    given = f" ({supplied} of them with what the team supplies)" if supplied else ""
    lines = [f"Release {release}: {counts[DEPLOYED]} of {len(results)} templates deployed{given}.", "",
             "| outcome | templates |", "|---|---|"]
    lines += [f"| {CATEGORIES[c]} | {n} |" for c, n in counts.items() if n or c == DEPLOYED]
    lines += [f"| total | {len(results)} |"]
    for category, title in CATEGORIES.items():
        failed = [r for r in results if r["category"] == category and category != DEPLOYED]
        if failed:
            lines += ["", f"**{title}** ({len(failed)}):", ""]
            for r in failed:
                evidence = f"{r.get('code', '')}: {r.get('message', '')}".strip(": ")
                evidence = evidence if len(evidence) <= 200 else evidence[:197] + "..."
                note = f" (with {r['supplied']} supplied)" if r.get("supplied") else ""
                lines.append(f"- `{r['folder']}`{note}: {r['reason']} (`{evidence.replace('`', chr(39))}`)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.classify is not None:
        saved = json.loads(args.classify.read_text(encoding="utf-8"))
        release, results = saved["release"], saved["results"]
    else:
        release = args.release
        results = deploy_all(args.corpus.resolve(), release, args.jobs, args.only, args.timeout, args.supply)
    for result in results:
        result["category"], result["reason"] = classify(result)
    if args.results is not None:
        args.results.write_text(json.dumps({"release": release, "results": results}, indent=1) + "\n", encoding="utf-8")
    print(report(results, release))
    return 1 if any(r["category"] in failing_categories() for r in results) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("quickstarts: interrupted", file=sys.stderr)
        sys.exit(130)
