"""The template's public URL: set once, in pyproject.toml's [project.urls], read at run time from the package metadata."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from generator.templating import template_source

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def _repository_in_pyproject() -> str:
    return re.search(r'^Repository = "([^"]+)"', PYPROJECT.read_text(encoding="utf-8"), re.MULTILINE)[1]


def test_the_public_url_is_the_repository_of_the_installed_metadata():
    assert f"Repository, {_repository_in_pyproject()}" in metadata.metadata("azs-scaffold").get_all("Project-URL")
    assert template_source.public_url() == _repository_in_pyproject().rstrip("/") + ".git"
    assert template_source.recorded_url("/somewhere/" + template_source.BUNDLE_NAME) == template_source.public_url()
    assert template_source.recorded_url("/tmp/x/" + template_source.CLONE_NAME) == template_source.public_url()  # a batch's clone


def test_a_checkout_that_was_never_installed_reads_the_same_line_of_its_pyproject():
    assert f"Repository, {_repository_in_pyproject()}" in template_source._checkout_urls()
