"""What azs-scaffold does once where copier repeats it (generator/operations/copier_worker.py), proven on real renders
of a small template with real copier and git: the projects come out as copier makes them, with fewer git processes
and compiles."""

from __future__ import annotations

import filecmp
import os
import ssl
from pathlib import Path

import certifi
import copier
import pytest
from copier._main import Worker as CopierWorker

from generator.discovery.http import DiscoveryError, StackHttp
from generator.operations import copier_worker
from generator.templating.template_source import (
    BUNDLE_NAME,
    CLONE_NAME,
    TemplateSource,
    copier_environment,
    recorded_url,
    reusable_clone,
)
from tests.helpers import git

QUESTIONS = "name:\n  type: str\n  default: demo\n_subdirectory: template\n"
FILES = {f"file{n}.txt.jinja": f"{n}: {{{{ name }}}} {{% if name == 'demo' %}}default{{% endif %}}\n" for n in range(6)}


def _template(root: Path, executable: bool = False, tag: str = "v1") -> Path:
    """A template repository (copier.yml, template/ with a few files and a script), committed and tagged."""
    (root / "template").mkdir(parents=True, exist_ok=True)
    (root / "copier.yml").write_text(QUESTIONS)
    for name, text in FILES.items():
        (root / "template" / name).write_text(text)
    (root / "template" / "{{ _copier_conf.answers_file }}.jinja").write_text("{{ _copier_answers|to_nice_yaml }}")
    script = root / "template" / "run.sh"
    script.write_text("#!/bin/sh\necho {{ name }}\n")
    script.chmod(0o755 if executable else 0o644)
    if not (root / ".git").exists():
        git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", tag)
    git(root, "tag", tag)
    return root


def _file_mode_questions(trace: Path) -> int:
    return sum("core.fileMode" in line for line in trace.read_text().splitlines()) if trace.exists() else 0


def test_the_methods_replaced_are_copiers():
    """A copier release that renames what copier_worker replaces fails here, not silently in every render."""
    for name in ("jinja_env", "_sync_git_index_executable_bit", "template"):
        assert name in vars(CopierWorker), name
    # The clone made ahead is taken as copier's own: its Template is made from (url, ref) and removes its clone.
    from copier._template import Template

    assert {"url", "ref", "use_prereleases"} <= set(Template.__dataclass_fields__) and callable(Template._cleanup)


def test_a_render_asks_git_for_file_mode_once_and_equals_copiers(tmp_path):
    template = _template(tmp_path / "template-repo")
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for render, destination in ((copier_worker.run_copy, ours), (copier.run_copy, theirs)):
        trace = tmp_path / f"trace-{destination.name}"
        # The destination inside a repository: copier's per-file question then reaches git.
        destination.mkdir()
        git(destination, "init", "-q")
        with copier_environment(GIT_TRACE=str(trace)):
            render(str(template), destination, data={"name": "x"}, defaults=True, quiet=True, vcs_ref="v1")
        destination.joinpath(".git").rename(tmp_path / f"git-{destination.name}")
    assert _file_mode_questions(tmp_path / "trace-ours") == 1
    assert _file_mode_questions(tmp_path / "trace-theirs") > len(FILES)
    compared = filecmp.dircmp(ours, theirs)
    assert not (compared.diff_files or compared.left_only or compared.right_only), compared.report()
    assert (ours / "file0.txt").read_text() == "0: x \n"
    assert os.access(ours / "run.sh", os.X_OK) == os.access(theirs / "run.sh", os.X_OK)


def test_compiled_code_is_reused_across_renders_and_never_across_syntaxes(tmp_path):
    template = _template(tmp_path / "template-repo")
    copier_worker.run_copy(str(template), tmp_path / "first", data={"name": "one"}, defaults=True, quiet=True)
    compiled = len(copier_worker._COMPILED)
    copier_worker.run_copy(str(template), tmp_path / "second", data={"name": "two"}, defaults=True, quiet=True)
    assert len(copier_worker._COMPILED) == compiled  # the second project compiled nothing new
    assert (tmp_path / "second" / "file1.txt").read_text() == "1: two \n"
    # The same text under other delimiters is another template: rendered with its own syntax, not the cached code.
    (template / "copier.yml").write_text(QUESTIONS + "_envops:\n  variable_start_string: '[['\n  variable_end_string: ']]'\n")
    (template / "template" / "file0.txt.jinja").write_text("[[ name ]] {{ name }}\n")
    git(template, "commit", "-qam", "other delimiters")
    git(template, "tag", "v2")
    copier_worker.run_copy(str(template), tmp_path / "third", data={"name": "three"}, defaults=True, quiet=True)
    assert (tmp_path / "third" / "file0.txt").read_text() == "three {{ name }}\n"
    assert (tmp_path / "third" / "file1.txt").read_text() == "1: {{ name }} \n"  # its text unchanged, its syntax not


def test_with_file_mode_false_an_update_still_records_the_executable_bit(tmp_path):
    """core.fileMode false (Windows' default): copier's own step that puts the executable bit into git's index runs."""
    template = _template(tmp_path / "template-repo")
    project = tmp_path / "project"
    copier_worker.run_copy(str(template), project, data={"name": "x"}, defaults=True, quiet=True, vcs_ref="v1")
    git(project, "init", "-q")
    git(project, "config", "core.fileMode", "false")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "generated")
    assert git(project, "ls-files", "--stage", "run.sh").startswith("100644")
    _template(template, executable=True, tag="v2")
    copier_worker.run_update(project, defaults=True, overwrite=True, quiet=True, vcs_ref="v2", unsafe=True)
    assert git(project, "ls-files", "--stage", "run.sh").startswith("100755")


def test_a_bundle_is_cloned_once_and_nothing_written_into_the_clone_reaches_a_project(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    repo = _template(tmp_path / "template-repo")
    bundle = tmp_path / "dist" / BUNDLE_NAME
    bundle.parent.mkdir()
    git(repo, "bundle", "create", "-q", str(bundle), "HEAD", "--tags")
    first = reusable_clone(TemplateSource(str(bundle), "HEAD"))
    assert first.src.endswith(CLONE_NAME) and first.ref == git(repo, "rev-parse", "HEAD").strip()
    assert recorded_url(first.src) == recorded_url(str(bundle))  # projects record the public URL either way
    # Someone edits the cached clone: the next render still renders the bundle's commit.
    Path(first.src, "template", "file0.txt.jinja").write_text("tampered\n")
    again = reusable_clone(TemplateSource(str(bundle), "HEAD"))
    assert again == first
    copier_worker.run_copy(again.src, tmp_path / "project", data={"name": "x"}, defaults=True, quiet=True, vcs_ref=again.ref)
    assert (tmp_path / "project" / "file0.txt").read_text() == "0: x \n"
    assert "_commit: v1" in (tmp_path / "project" / ".copier-answers.yml").read_text()
    assert reusable_clone(TemplateSource(str(repo), None)) == TemplateSource(str(repo), None)  # not a bundle: as it is


class _CountingContext(ssl.SSLContext):
    """A TLS context that counts the CA locations loaded into it."""

    loads: list[str]

    def load_verify_locations(self, cafile=None, capath=None, cadata=None):  # type: ignore[override]
        self.__dict__.setdefault("loads", []).append(str(cafile or capath or "cadata"))
        return super().load_verify_locations(cafile, capath, cadata)


def test_discovery_loads_the_users_ca_bundle_once_and_still_trusts_it(emulator, monkeypatch, tmp_path):
    """requests hands each new connection the bundle REQUESTS_CA_BUNDLE names, and urllib3 loaded it into the context
    each time (tens of milliseconds of CPU a connection): now once a process, and its CAs trusted all the same."""
    info = emulator.info()
    context = _CountingContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(certifi.where())  # the public CAs only: the emulator's CA is not among them
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", info["ca_cert"])  # the user's bundle, which holds it
    url = f"{info['arm_endpoint']}metadata/endpoints?api-version=1.0"
    for _ in range(4):  # a new session (and connection) each time, as discovery's sign-in and later steps make
        assert StackHttp(context).get(url, "test").status == 200
    assert context.loads.count(info["ca_cert"]) == 1, context.loads
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    (tmp_path / "broken.pem").write_text("no certificate here\n")
    monkeypatch.setenv("CURL_CA_BUNDLE", str(tmp_path / "broken.pem"))  # unloadable: left to urllib3, which says why
    with pytest.raises(DiscoveryError):
        StackHttp(context, retries=0).get(url, "test")
