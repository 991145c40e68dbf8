"""The architecture the folders promise, held by the code: the emulator stands alone, as moto stands apart from
boto3 (it imports nothing of the generator); the places of generator/ stand in layers, each importing only the
ones below it (plumbing, catalog, discovery, the template's side, the operations, the commands, the command line), so that no place
but the command line reaches for a command."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "generator"
EMULATOR = ROOT / "azs_emulator"

# From the bottom up: what each place may import of the generator is its own layer and those below it.
LAYERS = (
    ("generator.errors", "generator._util"),
    ("generator.catalog",),
    ("generator.discovery",),
    # The released names older template versions run (generator/copier_extension.py, ...) stand with what they name.
    ("generator.templating", "generator.copier_extension", "generator.secret_files"),
    ("generator.operations", "generator.upgrade"),
    # What every command shares (its options, the exit codes), then the commands, then the entry point.
    ("generator.cli.options", "generator.cli.exit_codes"),
    ("generator.commands",),
    ("generator.cli", "generator.__main__"),
)
# The emulator, for what tests a release on the wire or runs a demo against it: the maintainer's probe of candidate
# pins and the commands that start one. The product itself never needs it.
USES_THE_EMULATOR = ("generator.catalog.pins", "generator.operations", "generator.commands", "generator.cli")


def _imported_modules(path: Path, package: str = "generator") -> set[str]:
    """Every module of ``package`` (or the emulator's) that ``path`` imports, at its top or inside a function (the
    CLI imports its commands late)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | ({f"{node.module}.{alias.name}" for alias in node.names} if node.module == "generator" else set())
    return {name for name in names if _within(name, (package, "azs_emulator"))}


def _module(path: Path) -> str:
    parts = path.relative_to(GENERATOR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _within(name: str, places: tuple[str, ...]) -> bool:
    return any(name == place or name.startswith(place + ".") for place in places)


def _layer(name: str) -> int | None:
    return next((index for index, places in enumerate(LAYERS) if _within(name, places)), None)


def test_the_emulator_imports_nothing_of_the_generator():
    """azs_emulator/ is its own package in the same distribution: it runs without the generator."""
    paths = list(EMULATOR.rglob("*.py"))
    assert len(paths) > 10
    outside = {f"{path.relative_to(ROOT)}: {name}" for path in paths for name in _imported_modules(path)
               if not _within(name, ("azs_emulator",))}
    assert not outside, sorted(outside)


def test_the_emulator_runs_without_the_generator(tmp_path):
    """Importing the emulator and building its server loads no module of the generator."""
    import subprocess
    code = ("import sys, azs_emulator; from azs_emulator import Emulator, EmulatorConfig; "
            "print(sorted(m for m in sys.modules if m == 'generator' or m.startswith('generator.')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


def test_every_module_of_the_generator_has_a_place():
    placeless = sorted(module for module in map(_module, GENERATOR.rglob("*.py")) if _layer(module) is None
                       and module not in ("generator", "generator._version"))
    assert not placeless, placeless


def test_each_place_imports_only_the_places_below_it():
    """E.g. nothing in discovery/ or templating/ imports a command, and the catalog knows nothing of discovery."""
    upward = []
    for path in GENERATOR.rglob("*.py"):
        module = _module(path)
        layer = _layer(module)
        if layer is None:  # the emulator (above) and the package's face
            continue
        for name in _imported_modules(path):
            if name in ("generator", "generator.__version__", "generator._version"):
                continue
            if _within(name, ("azs_emulator",)):
                if not _within(module, USES_THE_EMULATOR):
                    upward.append(f"{module} -> {name}")
                continue
            target = _layer(name)
            if target is None or target > layer:
                upward.append(f"{module} -> {name}")
    assert not upward, sorted(upward)


def test_no_module_beside_a_script_is_named_like_the_standard_librarys():
    """generator/catalog/_pin_probe.py runs as a script, so its folder is its sys.path[0]: a module there named like
    one of the standard library's (as generator/secrets.py once was) would be imported instead of it."""
    scripts = [GENERATOR / "catalog" / "_pin_probe.py"]
    assert all(script.is_file() for script in scripts)
    shadowing = sorted(str(path.relative_to(GENERATOR)) for script in scripts for path in script.parent.glob("*.py")
                       if path.stem in sys.stdlib_module_names)
    assert not shadowing, shadowing


# generator/commands/ holds the table (its __init__) and one module per command, nothing else.
TABLE = {"__init__"}


def test_each_command_is_one_module_of_the_table():
    """generator/commands/<command>.py declares its options, their typed object and run; the table names every one, and
    each Options is read whole from what its own parser declares (no field without its option)."""
    import dataclasses
    import importlib

    from generator.cli import build_parser
    from generator.cli.options import options_of
    from generator.commands import COMMANDS

    modules = {path.stem for path in (GENERATOR / "commands").glob("*.py")} - TABLE
    assert modules == {command.module for command in COMMANDS.values()}
    minimal = {"new": ["DEST"], "discover": ["--arm-endpoint", "https://management.local.azurestack.external"]}
    for name, command in COMMANDS.items():
        module = importlib.import_module(f"generator.commands.{command.module}")
        assert module.DESCRIPTION and callable(module.add_options) and callable(module.run)
        assert dataclasses.is_dataclass(module.Options)
        args = build_parser([name]).parse_args([name, *minimal.get(name, [])])
        assert isinstance(options_of(module.Options, args), module.Options)


# Issue 39: no module of the generator, the emulator, the template or the tests over 400 lines; a longer one is split
# where its ideas part (a real seam, each part named for what it holds).
MAX_MODULE_LINES = 400


def _python_files() -> list[Path]:
    """Every Python file under generator/, azs_emulator/, template/ and tests/: the template's too, by the name it
    renders to (``{% if ... %}key_vault.py{% endif %}``, ``*.py.jinja``)."""
    def rendered(name: str) -> str:
        return re.sub(r"\{[%{].*?[%}]\}", "", name).removesuffix(".jinja")

    return sorted(path for place in ("generator", "azs_emulator", "template", "tests", "tools") for path in (ROOT / place).rglob("*")
                  if path.is_file() and rendered(path.name).endswith(".py") and "__pycache__" not in path.parts)


def test_no_module_is_over_400_lines():
    lengths = {path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines()) for path in _python_files()}
    assert "generator/cli/__init__.py" in lengths and any("{%" in name for name in lengths)  # the walk sees them all
    too_long = {name: n for name, n in lengths.items() if n > MAX_MODULE_LINES}
    assert not too_long, f"over {MAX_MODULE_LINES} lines, split where the ideas part: {too_long}"


def test_a_sample_is_one_template_file_and_one_catalog_line():
    """Issue 39: copier's question, the generated README's table, the lock, the registration and the role check all
    read the catalog's line; the template holds the sample's one file, named for it."""
    from generator import catalog

    files = {re.sub(r"\{%.*?%\}", "", path.name).removesuffix(".py") for path in (ROOT / "template" / "samples").glob("*.py*")}
    assert files == set(catalog.SAMPLES)
    copier_yml = (ROOT / "copier.yml").read_text(encoding="utf-8")
    readme = (ROOT / "template" / "README.md.jinja").read_text(encoding="utf-8")
    assert not [name for name in catalog.SAMPLES if name in copier_yml or name in readme]
