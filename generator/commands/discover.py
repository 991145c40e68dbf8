"""``azs-scaffold discover``: what a project for a Stack needs (``generator.discovery``), and with
``--capabilities`` what the Stack serves, for ``doctor`` offline."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass

from generator.cli.options import DiscoveryOptions, add_discovery_options, progress
from generator.errors import UsageError

DESCRIPTION = ("Query a Stack's Resource Manager and show what a project for it needs: identity system, "
               "authority, tenant, token audience and scope, Stack release and API profile (with the evidence). "
               "With credentials it also proves them. Secrets are never taken on the command line.")


def add_options(p: argparse.ArgumentParser) -> None:
    add_discovery_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--capabilities", metavar="FILE", help="also write the Stack's capabilities (providers, api-versions, VM "
                   "sizes, images, extensions) to FILE, for doctor to check ARM templates where the Stack is not reachable")


@dataclass
class Options:
    discovery: DiscoveryOptions
    json: bool
    capabilities: str | None


def run(options: Options) -> int:
    from generator.discovery import discover_stack

    if options.capabilities and not options.discovery.client_id:  # refused before anything is asked of the Stack
        raise UsageError("--capabilities needs a service principal to read the Stack's providers, sizes and marketplace: "
                         "add --client-id and --client-secret-env VAR (or --certificate PEM)")
    if options.capabilities and os.path.isdir(options.capabilities):
        raise UsageError(f"--capabilities {options.capabilities} is a directory; give a file name, e.g. "
                         f"{os.path.join(options.capabilities, 'capabilities.json')}")
    request = options.discovery.request()
    found = discover_stack(request, progress=progress)
    if options.capabilities:
        from generator.discovery.capabilities import read_capabilities, write_capabilities

        progress("Reading the Stack's capabilities: providers, VM sizes, images, extensions")
        written = write_capabilities(options.capabilities, read_capabilities(request, found))
        print(f"Wrote the Stack's capabilities to {written} (doctor --capabilities {written} checks templates against them)",
              file=sys.stderr)
    if options.json:
        print(json.dumps(found.to_json(), indent=2))
        return 0
    from generator.operations.report import discovery_summary

    print(discovery_summary(found))
    return 0
