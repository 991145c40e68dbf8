"""azs-scaffold: generate ready-to-run Python projects for Azure Stack Hub."""

try:
    # Written by the build (hatch-vcs) from the git tags: package and template share this version.
    from generator._version import __version__
except ImportError:  # a source tree that was never built or installed
    __version__ = "0.0.0+unknown"
