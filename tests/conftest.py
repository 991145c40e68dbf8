"""Shared fixtures: emulators on loopback, and the real Azure SDK pointed at them."""

from __future__ import annotations

import os
from typing import Callable, Iterator

import pytest

from generator.emulator import Emulator, EmulatorConfig

# Trust must come from what the code under test sets up, never from the environment.
for _variable in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
    os.environ.pop(_variable, None)


@pytest.fixture
def start_emulator() -> Iterator[Callable[..., Emulator]]:
    """Start emulators with the given options (fast provider registration); all stop at teardown."""
    running: list[Emulator] = []

    def start(**options: object) -> Emulator:
        options.setdefault("registration_delay", 0.2)
        emulator = Emulator(EmulatorConfig(**options)).start()  # type: ignore[arg-type]
        running.append(emulator)
        return emulator

    yield start
    for emulator in running:
        emulator.stop()


@pytest.fixture
def emulator(start_emulator: Callable[..., Emulator]) -> Emulator:
    """A 2108 Azure AD emulator."""
    return start_emulator()
