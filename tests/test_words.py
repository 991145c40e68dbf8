"""One word per idea (docs/architecture.md's glossary): the new spellings are what ``--help`` shows, and every
released spelling kept as an alias still works (one test each)."""

from __future__ import annotations

from typing import Any

import pytest

from generator.cli import build_parser
from generator.cli.options import options_of
from tests.helpers import cli, one_error


def parsed(*argv: str) -> Any:
    """The typed options of the command line ``argv``, as the command receives them."""
    args = build_parser(argv).parse_args(argv)
    return options_of(args.module.Options, args)


def help_of(command: str) -> str:
    code, out, err = cli(command, "--help")
    assert code == 0, err
    return out


# -- identity system ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["emulator", "demo"])
def test_identity_system_is_the_option_help_shows(command):
    shown = help_of(command)
    assert "--identity-system {azure_ad,adfs}" in shown
    assert "--identity " not in shown and "--identity {" not in shown
    assert parsed(command).identity_system == "azure_ad"


@pytest.mark.parametrize("command", ["emulator", "demo"])
def test_the_released_identity_option_still_sets_the_identity_system(command):
    assert parsed(command, "--identity", "adfs").identity_system == "adfs"


def test_the_released_identity_option_reaches_the_emulator():
    # The emulator refuses ADFS for global Azure before it listens: the alias went the whole way, named anew.
    code, _, err = cli("emulator", "--stack-version", "azure", "--identity", "adfs", timeout=60)
    one_error(code, err, "drop --identity-system adfs")
