"""One word per idea (docs/architecture.md's glossary): the new spellings are what ``--help`` shows, and every
released spelling kept as an alias still works (one test each)."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

import pytest

from generator.cli import build_parser
from generator.cli.options import options_of
from generator.commands import COMMANDS
from tests.helpers import ROOT, cli, one_error


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


@pytest.mark.reliability
def test_r232_the_released_identity_option_reaches_the_emulator_and_errors_name_the_new_one():
    # The emulator refuses ADFS for global Azure before it listens: the aliases went the whole way, named anew.
    code, _, err = cli("emulator", "--stack-version", "azure", "--identity", "adfs", timeout=60)
    assert code == 2
    one_error(code, err, "global Azure uses Azure AD: drop --identity-system adfs with --release azure")


# -- release -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["discover", "new", "upgrade", "doctor", "emulator", "demo"])
def test_release_is_the_option_help_shows(command):
    shown = help_of(command)
    assert "--release" in shown and "--stack-version" not in shown


@pytest.mark.parametrize(("argv", "release"), [
    (("discover", "--arm-endpoint", "https://management.local.azurestack.external", "--stack-version", "2008"), "2008"),
    (("emulator", "--stack-version", "azure"), "azure"),
    (("demo", "--stack-version", "2301"), "2301"),
])
def test_the_released_stack_version_option_still_sets_the_release(argv, release):
    options = parsed(*argv)
    assert getattr(options, "discovery", options).release == release


def test_the_released_stack_version_option_reaches_discovery(emulator):
    info = emulator.info()
    code, out, err = cli("discover", "--arm-endpoint", info["arm_endpoint"], "--root-ca", info["root_ca"],
                         "--stack-version", "1.2008.0.59", "--json")
    assert code == 0, err
    body = json.loads(out)
    assert body["release"] == body["stack_version"] == "2008" and body["profile"] == "2019_03_01_hybrid"


def test_the_info_file_says_release_and_still_stack_version(emulator):
    info = emulator.info()
    assert info["release"] == info["stack_version"] == "2108"




# -- root CA -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["discover", "new", "upgrade", "doctor"])
def test_root_ca_is_the_option_help_shows(command):
    shown = help_of(command)
    assert "--root-ca PEM" in shown and "--ca-cert" not in shown


def test_the_emulators_trust_takes_the_stand_in_ca():
    shown = help_of("emulator")
    assert "--stand-in-ca PEM" in shown and "--ca-cert" not in shown
    assert parsed("emulator", "trust", "--python", "py", "--ca-cert", "public-ca.pem").stand_in_ca == "public-ca.pem"


def test_the_released_ca_cert_option_still_sets_the_root_ca():
    argv = ("discover", "--arm-endpoint", "https://management.local.azurestack.external", "--ca-cert", "root.pem")
    assert parsed(*argv).discovery.root_ca == "root.pem"


@pytest.mark.reliability
def test_r231_the_released_ca_cert_option_still_makes_the_stack_trusted(emulator):
    info = emulator.info()
    untrusted = cli("discover", "--arm-endpoint", info["arm_endpoint"], "--json")
    assert untrusted[0] == 1 and "--root-ca PEM" in untrusted[2]
    code, out, err = cli("discover", "--arm-endpoint", info["arm_endpoint"], "--ca-cert", info["root_ca"], "--json")
    assert code == 0, err
    assert json.loads(out)["resource_manager"] == info["arm_endpoint"]


def test_the_info_file_says_root_ca_and_still_ca_cert(emulator):
    info = emulator.info()
    assert info["root_ca"] == info["ca_cert"] and info["root_ca"].endswith(".pem")


# -- the info file an earlier emulator wrote (a detached one still serving across an upgrade) ---------------------

@pytest.mark.reliability
def test_r230_an_info_file_an_earlier_emulator_wrote_is_read_by_its_released_keys(emulator, tmp_path):
    from azs_emulator.info_file import with_current_keys
    from azs_emulator.venv_trust import stand_in_ca_of_info
    from generator.operations.emulator_control import read_info

    earlier = {key: value for key, value in emulator.info().items() if key not in ("release", "root_ca")}
    (tmp_path / "info.json").write_text(json.dumps(earlier))
    read = read_info(tmp_path / "info.json")
    assert read["release"] == "2108" and read["root_ca"] == earlier["ca_cert"]
    assert str(stand_in_ca_of_info(with_current_keys(earlier))) == earlier["identity_ca_cert"]
    code, out, err = cli("discover", "--emulator", str(tmp_path / "info.json"), "--json")
    assert code == 0, err
    assert json.loads(out)["resource_manager"] == earlier["arm_endpoint"]


# -- the docs ----------------------------------------------------------------------------------------------------

def aliases() -> dict[str, set[str]]:
    """Every hidden alias of every command: option -> the commands taking it."""
    found: dict[str, set[str]] = {}
    for name in COMMANDS:
        command = build_parser([name])._subparsers._group_actions[0].choices[name]  # type: ignore[union-attr]
        for action in command._actions:
            if action.help == argparse.SUPPRESS:
                for option in action.option_strings:
                    found.setdefault(option, set()).add(name)
    return found


def test_every_alias_is_in_the_glossary_and_no_page_teaches_it():
    """The docs use the current words; a line naming a released spelling says it is one (released, alias)."""
    found = aliases()
    assert set(found) == {"--identity", "--stack-version", "--ca-cert"}
    architecture = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    glossary = architecture[architecture.index("## One word per idea"):]
    pages = {page: page.read_text(encoding="utf-8") for page in [ROOT / "README.md", ROOT / "template" / "README.md.jinja",
                                                                 *sorted((ROOT / "docs").glob("*.md"))]}
    pages[ROOT / "docs" / "architecture.md"] = architecture.replace(glossary, "")
    for option in found:
        assert f"`{option}`" in glossary, option
        for page, text in pages.items():  # a line may name an alias as one
            teaching = [line for line in text.splitlines() if re.search(rf"{option}(?![\w-])", line)
                        and not re.search(r"released|alias", line)]
            assert not teaching, f"{page.name} teaches the alias {option}: {teaching[0]}"
