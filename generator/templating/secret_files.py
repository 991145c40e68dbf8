"""The template's task that puts secrets into the service principal file, private from the first byte.

copier writes every file with the template file's mode and cannot make one private before writing it.
So the service principal file is rendered without its secret; while rendering, the template hands the
secret to :func:`hold_for_task` (in copier's own process), which passes it through the environment
(never a command line) to this task:

    python -m generator.templating.secret_files fill

which writes the file anew with the secret, created 0600 before its first byte, and renames it into place.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from generator._util.files import write_private_file

PENDING_ENV = "AZS_SCAFFOLD_PENDING_SECRETS"
# Set while azs-scaffold's own render runs copier (generator/operations/render.py): it writes the secrets itself, after
# copier, so copier.yml starts no Python for the task.
WRITTEN_AFTER_ENV = "AZS_SCAFFOLD_SECRETS_WRITTEN_AFTER"
SP_FILES = ("azureSecretSpConfig.json", "azureCertSpConfig.json")
_pending: dict[str, dict[str, str]] = {}


def hold_for_task(file_name: str, key: str, value: str | None) -> str:
    """Keep ``value`` for the ``fill`` task to write as ``key`` of ``file_name``; renders as nothing."""
    if value:
        from generator.templating.template_source import set_for_copier

        _pending.setdefault(file_name, {})[key] = value
        set_for_copier(PENDING_ENV, json.dumps(_pending))
    return ""


def written_after() -> bool:
    """Whether azs-scaffold writes the secrets after copier (:data:`WRITTEN_AFTER_ENV`): the task is then not started."""
    return bool(os.environ.get(WRITTEN_AFTER_ENV))


def fill(project: Path, pending: dict[str, dict[str, str]] | None = None) -> None:
    """Write ``pending`` secrets (default: those held for this task) into the project's service principal
    files, each as a new file private from its first byte; make those files private in any case."""
    if pending is None:
        pending = json.loads(os.environ.get(PENDING_ENV) or "{}")
    for name in SP_FILES:
        path = project / name
        if not path.exists():
            continue
        if name in pending:
            config = json.loads(path.read_text(encoding="utf-8"))
            config.update(pending[name])
            write_private_file(path, (json.dumps(config, indent=2) + "\n").encode("utf-8"))
        os.chmod(path, 0o600)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args != ["fill"]:
        print("usage: python -m generator.templating.secret_files fill", file=sys.stderr)
        return 2
    fill(Path.cwd())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
