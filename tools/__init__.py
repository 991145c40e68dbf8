"""Maintainer tools run from a checkout, not shipped in the wheel: ``python -m tools.quickstarts`` deploys Microsoft's
Azure Stack quickstart corpus against the emulator and sorts what fails (docs/emulator.md, "Microsoft's Stack quickstart
corpus")."""
