"""The commands of ``azs-scaffold``, one module each, and the table that names them.

A command's module (``generator/commands/<name>.py``) declares ``DESCRIPTION``, its options (``add_options(parser)``),
the typed object they are read into (``Options``) and ``run(options) -> int``; what the command does is the library
in ``generator/operations/``. The entry point (``generator/cli/``) imports only the module of the command that runs,
so ``--help`` and ``COMMAND --help`` import neither copier, the Azure SDK nor the emulator.

A new command is one module here and one line in :data:`COMMANDS`.
"""

from __future__ import annotations


class Command:
    """A row of the table: the module under ``generator/commands/`` that holds the command, and its one-line summary.
    (A plain class: ``--help`` imports this table, and typing's NamedTuple would cost it a tenth of its imports.)"""

    __slots__ = ("module", "summary")

    def __init__(self, module: str, summary: str) -> None:
        self.module, self.summary = module, summary


# The commands, in the order ``--help`` lists them.
COMMANDS: dict[str, Command] = {
    "new": Command("new", "discover a Stack and generate a ready-to-run project for it"),
    "upgrade": Command("upgrade", "re-discover the Stack and regenerate a project, keeping your edits"),
    "discover": Command("discover", "find out identity system, tenant, release and API profile of a Stack"),
    "doctor": Command("doctor", "diagnose an existing Azure Stack Hub Python project: pins, profiles, credentials, CA trust"),
    "demo": Command("demo", "the whole flow against the built-in emulator: generate, bootstrap, register, run a sample"),
    "emulator": Command("emulator", "run a local Azure Stack Hub emulator (HTTPS, Azure AD or ADFS, Resource Manager)"),
    "wheelhouse": Command("wheelhouse", "download a project's locked packages into PROJECT/wheels/ for a site without a "
                          "package index"),
}
