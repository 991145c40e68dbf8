"""A released name: template versions before the folders (up to 9af8fd6) run ``python -m generator.upgrade
refresh-answers`` as their migration, with the installed generator, whenever a project is updated to such a version.

New template versions run :mod:`generator.operations.upgrade`.
"""

from generator.operations.upgrade import main

if __name__ == "__main__":
    raise SystemExit(main())
