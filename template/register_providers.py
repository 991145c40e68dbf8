"""Register the resource providers this project's samples need, and wait until they are ready.

    .venv/bin/python register_providers.py [--timeout SECONDS]

Idempotent: providers already registered are left alone. Registering one can take minutes on a
Stack. The wait is bounded by --timeout as a whole (slow answers and Retry-After included), and a
progress line appears at least every few seconds.
"""

from __future__ import annotations

import argparse
import sys
import time

# azure_stack first: it says in one line when this Python lacks the project's packages.
from samples.azure_stack import client, heartbeat, load_config, run

from azure.mgmt.resource import ResourceManagementClient


class Deadline:
    """The time left of --timeout, handed to each call so that no single answer outlasts it."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.started = seconds, time.monotonic()

    @property
    def waited(self) -> float:
        return time.monotonic() - self.started

    @property
    def left(self) -> float:
        return self.seconds - self.waited

    def call(self, operation, *args):
        """``operation(*args)`` with what is left of the time; TimeoutError when the time is up."""
        from azure.core.exceptions import ServiceRequestError, ServiceResponseError

        if self.left <= 0:
            raise TimeoutError
        budget = max(1.0, self.left)
        try:
            return operation(*args, timeout=budget, connection_timeout=min(budget, 30.0), read_timeout=budget)
        except (ServiceRequestError, ServiceResponseError) as exc:
            if "timed out" in str(exc).lower() or "timeout" in type(exc).__name__.lower() or self.left <= 0:
                raise TimeoutError from None
            raise


def register(timeout: float, interval: float) -> None:
    config = load_config()
    providers = client(ResourceManagementClient, config, longest_retry_wait=min(5.0, timeout)).providers
    # The time counts from the first request: the wait is for the Resource Manager, not for Python's imports.
    deadline = Deadline(timeout)
    states = {namespace: "unknown" for namespace in config.providers}

    def give_up() -> None:
        failed = ", ".join(f"{ns} ({state})" for ns, state in states.items() if state != "Registered")
        sys.exit(f"error: not registered after {timeout:.0f} s: {failed}; run again later (or with a longer --timeout), "
                 "or ask the Stack operator whether the offer includes these providers")

    try:
        with heartbeat("waiting for the Resource Manager"):
            for namespace in config.providers:
                state = states[namespace] = deadline.call(providers.get, namespace).registration_state
                if state != "Registered":
                    print(f"{namespace}: {state}, registering", flush=True)
                    states[namespace] = deadline.call(providers.register, namespace).registration_state
            while any(state != "Registered" for state in states.values()):
                if deadline.left <= 0:
                    give_up()
                pending = [ns for ns, state in states.items() if state != "Registered"]
                print(f"  waiting for {', '.join(pending)} ({deadline.waited:.0f} s)", flush=True)
                time.sleep(min(interval, max(0.1, deadline.left)))
                interval = min(interval * 2, 5)
                for namespace in pending:
                    states[namespace] = deadline.call(providers.get, namespace).registration_state
    except TimeoutError:
        give_up()
    for namespace in states:
        print(f"{namespace}: Registered")
    print(f"All providers are registered. Run the samples next: {_this_python()} samples/<name>.py")


def _this_python() -> str:
    """The Python running this, as the project's folder names it (``.venv/bin/python``, or ``.venv-emulator``'s
    against the emulator), so that the next step is run with the same one."""
    from pathlib import Path

    try:
        return str(Path(sys.executable).relative_to(Path(__file__).resolve().parent))
    except ValueError:
        return sys.executable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait in all (default: %(default)s)")
    args = parser.parse_args()
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    # The first look a quarter second after asking, then twice as long each time up to 5 s: a provider that is ready at
    # once (already registered elsewhere, a small Stack) is seen at once, a Stack that takes minutes is asked every 5 s.
    run(lambda: register(args.timeout, interval=0.25))


if __name__ == "__main__":
    main()
