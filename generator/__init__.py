"""azs-scaffold: generate ready-to-run Python projects for Azure Stack Hub.

The places: ``cli`` (the command line) calls ``commands/`` (one module a command); they ask ``discovery/`` what a
Stack is, decide with ``catalog/`` (profiles, releases, pins and their lock), and render with copier through
``templating/`` (the template's answers, Jinja globals, a project's own files). ``_util/`` is plumbing, ``errors``
the one-line errors a user sees. ``emulator/`` is an Azure Stack Hub to test against: it imports nothing of the rest.
"""

__all__ = ["__version__"]

try:
    # Written by the build (hatch-vcs) from the git tags: package and template share this version.
    from generator._version import __version__
except ImportError:  # a source tree that was never built or installed
    __version__ = "0.0.0+unknown"
