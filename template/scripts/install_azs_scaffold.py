"""Install azs-scaffold for this project's CI job, from where the CI variables say (default: the public source).

    python scripts/install_azs_scaffold.py PUBLIC_SOURCE FEED_REQUIREMENT

The CI definitions pass the release that generated this project twice: as the public source installs it (a git URL
at its commit), and as an internal index or a folder of wheels does (``azs-scaffold==VERSION``). A site without the
public sources sets CI variables (GitHub: repository or organization variables; Azure Pipelines: pipeline variables or a
variable group, which reach scripts as environment variables):

- ``AZS_SCAFFOLD_SOURCE``: what pip installs instead of either: another release, or the path of azs-scaffold's
  wheel (in the repository, or downloaded from an artifact feed by an earlier step);
- ``AZS_INDEX_URL``: an internal package index (PEP 503 "simple" URL) for azs-scaffold, what it needs, and the
  project's locked packages (``scripts/test_against_emulator.py`` hands it to bootstrap);
- ``AZS_WHEELS``: a folder of wheels to install from instead of any index: azs-scaffold's wheel and its dependencies
  (``pip download``), and the project's locked set (``azs-scaffold wheelhouse``; bootstrap ``--offline`` checks it).

Standard library only.
"""

from __future__ import annotations

import os
import subprocess
import sys


def without_credentials(url: str) -> str:
    """``url`` as it may be printed: without a user name or token (https://user:token@feed/... is common for feeds)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def source_settings() -> tuple[list[str], dict[str, str], str]:
    """pip's options and environment for the source the CI variables name, and how to say it (none: pip's own
    settings, by default the public index). An index URL goes in the environment: it may carry a token."""
    wheels, index = os.environ.get("AZS_WHEELS", "").strip(), os.environ.get("AZS_INDEX_URL", "").strip()
    if wheels:
        return ["--no-index", "--find-links", wheels], {}, f"from the wheels in {wheels}"
    if index:
        return [], {"PIP_INDEX_URL": index}, f"from the index {without_credentials(index)}"
    return [], {}, ""


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: python scripts/install_azs_scaffold.py PUBLIC_SOURCE FEED_REQUIREMENT", file=sys.stderr)
        return 2
    options, environment, said = source_settings()
    source = os.environ.get("AZS_SCAFFOLD_SOURCE", "").strip() or (sys.argv[2] if options or environment else sys.argv[1])
    print(f"==> Installing {without_credentials(source)}" + (f" ({said})" if said else ""), flush=True)
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *options, source],
                            env={**os.environ, **environment})
    if result.returncode != 0:
        print(f"error: installing azs-scaffold ({without_credentials(source)}) failed (see pip's message above); on a site "
              "without the public sources set the CI variable AZS_INDEX_URL (an internal index) or AZS_WHEELS (a folder of "
              "wheels), and AZS_SCAFFOLD_SOURCE", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
