"""The architecture the folders promise, held by the code: the emulator stands alone, as moto stands apart from
boto3 (it imports nothing of the generator), and the product never needs the emulator to run."""

from __future__ import annotations

import ast
from pathlib import Path

GENERATOR = Path(__file__).resolve().parent.parent / "generator"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_emulator_imports_nothing_of_the_generator():
    outside = {f"{path.relative_to(GENERATOR.parent)}: {name}"
               for path in (GENERATOR / "emulator").rglob("*.py") for name in _imported_modules(path)
               if (name == "generator" or name.startswith("generator.")) and not name.startswith("generator.emulator")}
    assert not outside, sorted(outside)


def test_no_module_beside_a_script_is_named_like_the_standard_librarys():
    """generator/_pin_probe.py runs as a script, so generator/ is its sys.path[0]: a module there named like one of
    the standard library's (as secrets.py was) would be imported instead of it."""
    import sys

    shadowing = sorted(path.name for path in GENERATOR.glob("*.py") if path.stem in sys.stdlib_module_names)
    assert not shadowing, shadowing
