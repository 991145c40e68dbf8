"""Deploy every template of Microsoft's Azure Stack quickstart corpus (Azure/AzureStack-QuickStart-Templates) against
the built-in emulator, through the real Azure SDK, and sort what fails.

    python -m tools.quickstarts CORPUS [--release 2108|2008] [--jobs 4] [--only FOLDER ...] [--results FILE]
    python -m tools.quickstarts --classify FILE          (sort the failures of an earlier run again, deploying nothing)

CORPUS is a local checkout of the corpus (nothing is fetched). It starts ``azs-scaffold emulator`` (``python -m
generator emulator``) for the release on its own, reached through the emulator's HTTPS proxy under the Stack's names
with TLS verified against its CAs; deploys each folder's ``azuredeploy.json`` with its ``azuredeploy.parameters.json``
(placeholders filled: tools/quickstarts/corpus.py) into a resource group of its own (tools/quickstarts/deploy.py), several
at once, with progress on stderr; then classifies each failure by the rules of tools/quickstarts/rules.py and prints a markdown table and the
failures per category on stdout. Exit status: 0 when every failure is one a Stack shares (the internet, an add-on, a
resource the team supplies, a refusal a Stack makes too), 1 when one is the emulator's own or matches no rule
(unclassified), 2 on a usage error.
"""

from __future__ import annotations

import argparse
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

from generator.catalog.profiles import STACK_RELEASES
from tools.quickstarts.corpus import Template, find_templates, load, new_secrets
from tools.quickstarts.deploy import Session, deploy, with_supplies
from tools.quickstarts.rules import CATEGORIES, DEPLOYED, classify, failing_categories

ROOT = Path(__file__).resolve().parents[2]
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.quickstarts", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 2)[2])
    parser.add_argument("corpus", nargs="?", type=Path, help="a local checkout of Azure/AzureStack-QuickStart-Templates")
    # From 2008: the storage service version --supply stages files at (the catalog's, 2019-07-07) is served from 2005 on.
    parser.add_argument("--release", choices=sorted(r for r in STACK_RELEASES if r >= "2008"), default="2108", metavar="YYMM",
                        help="the Stack release to emulate, 2008 or later; the SDK at its profile (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=4, help="deployments at once (default: %(default)s)")
    parser.add_argument("--only", action="append", default=[], metavar="FOLDER", help="deploy only this folder (repeatable)")
    parser.add_argument("--timeout", type=float, default=600, metavar="SECONDS", help="per deployment (default: %(default)s)")
    parser.add_argument("--supply", action="store_true",
                        help="first make what the team supplies for the templates that need it (tools/quickstarts/supplies.py)")
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
    command = [sys.executable, "-m", "generator", "emulator", "--release", release, "--info-file", str(info_file),
               "--registration-delay", "0"]
    with (scratch / "emulator.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:  # whatever ends the wait (a timeout, Ctrl-C, SIGTERM), the emulator is not left running
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"quickstarts: the emulator exited ({process.returncode}); see {scratch / 'emulator.log'}")
            try:
                return process, json.loads(info_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                time.sleep(0.2)
        raise SystemExit("quickstarts: the emulator did not start within 120 s")
    except BaseException:
        stop_emulator(process)
        raise


def stop_emulator(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
        saved = dict(os.environ)
        try:
            for name in _PROXY_VARIABLES:
                os.environ.pop(name, None)
            os.environ.update(HTTPS_PROXY=info["https_proxy"], NO_PROXY="127.0.0.1,localhost,::1")
            local = threading.local()

            def one(template: Template) -> dict[str, Any]:
                if not hasattr(local, "session"):  # a session, and its clients, per thread
                    local.session = Session(info, release, made, timeout)
                return deploy(local.session, template)

            results = []
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = [pool.submit(one, template) for template in templates]
                for done, future in enumerate(as_completed(futures), 1):
                    result = future.result()
                    results.append(result)
                    said = "deployed" if result["outcome"] == DEPLOYED else f"failed: {result.get('code')}"
                    progress(f"[{done}/{len(templates)}] {result['folder']}: {said} ({result['seconds']} s)")
        finally:
            stop_emulator(process)
            os.environ.clear()
            os.environ.update(saved)
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


def stop_on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM as Ctrl-C: the emulator is stopped and the scratch folder (its secret) removed
