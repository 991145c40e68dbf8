"""Register the resource providers this project's samples need, and wait until they are ready.

    .venv/bin/python register_providers.py [--timeout SECONDS]

Idempotent: providers already registered are left alone. Registering one can take minutes on a
Stack; progress is shown while waiting, and the wait is bounded.
"""

from __future__ import annotations

import argparse
import sys
import time

from azure.mgmt.resource import ResourceManagementClient

from samples.azure_stack import client, load_config, run


def register(timeout: float, interval: float) -> None:
    config = load_config()
    providers = client(ResourceManagementClient, config).providers
    states = {}
    for namespace in config.providers:
        state = providers.get(namespace).registration_state
        if state != "Registered":
            print(f"{namespace}: {state}, registering", flush=True)
            state = providers.register(namespace).registration_state
        states[namespace] = state
    started = time.monotonic()
    while any(state != "Registered" for state in states.values()):
        waited = time.monotonic() - started
        if waited >= timeout:
            failed = ", ".join(f"{ns} ({state})" for ns, state in states.items() if state != "Registered")
            sys.exit(f"error: not registered after {timeout:.0f} s: {failed}; run again later, or ask the Stack operator "
                     "whether the offer includes these providers")
        pending = [ns for ns, state in states.items() if state != "Registered"]
        print(f"  waiting for {', '.join(pending)} ({waited:.0f} s)", flush=True)
        time.sleep(min(interval, max(0.1, timeout - waited)))
        interval = min(interval * 2, 15)
        for namespace in pending:
            states[namespace] = providers.get(namespace).registration_state
    for namespace in states:
        print(f"{namespace}: Registered")
    print("All providers are registered. Run the samples next: .venv/bin/python samples/<name>.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for registration (default: %(default)s)")
    args = parser.parse_args()
    run(lambda: register(args.timeout, interval=1.0))


if __name__ == "__main__":
    main()
