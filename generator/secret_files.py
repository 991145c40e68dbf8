"""A released name: template versions before the folders (up to 9af8fd6) run ``python -m generator.secret_files
fill`` as their task, with the installed generator, whenever a project is generated from such a version.

New template versions run :mod:`generator.templating.secret_files`.
"""

from generator.templating.secret_files import main

if __name__ == "__main__":
    raise SystemExit(main())
