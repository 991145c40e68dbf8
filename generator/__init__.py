"""azs-scaffold: generate ready-to-run Python projects for Azure Stack Hub."""

__version__ = "0.1.0"
