"""copier's ``Worker`` as azs-scaffold runs it: what copier repeats per file or per worker, done once per process.

copier 9.19.1 (pinned in pyproject.toml) spends most of a render outside rendering proper:

- for every file it writes it asks git for ``core.fileMode`` (``git config --get``, one process a file: about 41 per
  project) to decide whether the git index needs the executable bit; the answer cannot change while one worker runs,
  so it is asked once per worker;
- every worker (a ``new``, each team of a batch, the two renders inside one ``update``) builds its own Jinja
  environment and compiles each path, answer default and file again (over 400 compiles a project); the compiled
  code depends only on the template text and the environment's syntax settings, so it is kept per process, keyed
  by both;
- a worker clones the template when it first needs it; :func:`clone_ahead` makes that clone earlier (``new``'s
  copier process, while discovery runs), and the worker then takes it as its own (and removes it when done);
- given no version of a git template, every clone asks for its latest release tag again and, where there is none,
  prints "No git tags found in template; using HEAD as ref" (three times in one upgrade): :func:`chosen_ref` asks
  once per worker, by copier's own rule, and prints nothing (the upgrade's plan names the version, ``template X ->
  HEAD``, and the answers file records the commit).

What copier renders, and every file it writes, stays exactly as copier makes it: these are caches of answers that
cannot differ within a run. copier calls its ``Worker`` internal (``copier._main``; ``run_copy`` and ``run_update`` are
thin wrappers of it): ``tests/test_speed.py`` proves both caches against real renders and fails should a copier release
move or drop what is overridden here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from types import CodeType
from typing import Any

from copier._main import Worker as CopierWorker
from copier._template import Template
from copier.errors import CopierError

# source and syntax -> compiled code: one process renders one template, so this stays small (a few hundred entries).
_COMPILED: dict[tuple[Any, ...], Any] = {}


def _syntax(env: Any) -> tuple[Any, ...]:
    """What a compile depends on besides the source: the environment's class, delimiters, options, extensions, and
    the names of its filters and tests (an unknown one fails at compile time)."""
    return (type(env), env.block_start_string, env.block_end_string, env.variable_start_string, env.variable_end_string,
            env.comment_start_string, env.comment_end_string, env.line_statement_prefix, env.line_comment_prefix,
            env.trim_blocks, env.lstrip_blocks, env.newline_sequence, env.keep_trailing_newline, env.optimized,
            env.is_async, env.autoescape if not callable(env.autoescape) else id(env.autoescape),
            tuple(sorted(env.extensions)), frozenset(env.filters), frozenset(env.tests))


def _compile_once(compile_source: Callable[..., Any], env: Any) -> Callable[..., Any]:
    def compile(source: Any, name: str | None = None, filename: str | None = None, raw: bool = False,
                defer_init: bool = False) -> Any:
        if not isinstance(source, str):  # an already parsed template: nothing to key it by
            return compile_source(source, name, filename, raw, defer_init)
        # A file's template is named by its path in the template (``name``) and in the clone copier made of it
        # (``filename``, a new folder each render): the code is the same, with the file name tracebacks show.
        key = (_syntax(env), source, name, raw, defer_init)
        if key not in _COMPILED:
            _COMPILED[key] = compile_source(source, name, filename, raw, defer_init)
        compiled = _COMPILED[key]
        return _named(compiled, filename) if isinstance(compiled, CodeType) else compiled

    return compile


def _named(code: CodeType, filename: str | None) -> CodeType:
    """``code`` (with the functions inside it) as compiled from ``filename``."""
    wanted = filename or "<template>"  # what Jinja names a template without a file
    if code.co_filename == wanted:
        return code
    constants = tuple(_named(c, filename) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=wanted, co_consts=constants)


def chosen_ref(src_path: str, vcs_ref: str | None) -> str | None:
    """The template version copier renders of ``src_path``: ``vcs_ref`` as given; else, for a git template, the one
    copier's ``get_latest_tag`` takes (the highest release tag, else ``HEAD``: ``template_version.latest_release``),
    without what copier prints on the way; None where copier has no version to take (a plain folder) or git cannot
    list the tags (copier then tries, and says what is wrong)."""
    if vcs_ref is not None:
        return vcs_ref
    from generator._util.git import git_output
    from generator.templating.template_version import latest_release

    template = Template(url=src_path)
    if template.vcs != "git":
        return None
    url = template.url_expanded
    if Path(url).exists():  # a local repository or bundle: ls-remote runs elsewhere (a relative path would not do)
        url = str(Path(url).resolve())
    code, listed = git_output(Path(tempfile.gettempdir()), "ls-remote", "--tags", "--refs", "--", url, check=False)
    if code != 0:
        return None
    return latest_release(line.partition("\t")[2].removeprefix("refs/tags/") for line in listed.splitlines())


# (template, version) -> its clone, made ahead of the worker that renders it.
_AHEAD: dict[tuple[str, str | None], Template] = {}


def clone_ahead(src_path: str, vcs_ref: str | None) -> None:
    """Clone ``src_path`` at ``vcs_ref`` now (into the temporary folder of the moment), for the next worker copying it.

    Whatever fails here is left to that worker, which clones again and says why."""
    vcs_ref = chosen_ref(src_path, vcs_ref)
    template = Template(url=src_path, ref=vcs_ref)
    try:
        template.local_abspath  # noqa: B018  (the clone: copier makes it when this is first read)
    except Exception:
        template._cleanup()
        return
    _AHEAD[(src_path, vcs_ref)] = template


def drop_clones_ahead() -> None:
    """Remove the clones made ahead that no worker took (the copy was never asked for)."""
    while _AHEAD:
        _AHEAD.popitem()[1]._cleanup()


class Worker(CopierWorker):
    """copier's worker with the caches above; everything else is copier's."""

    @cached_property
    def resolved_vcs_ref(self) -> str | None:
        ref = super().resolved_vcs_ref
        if ref is not None or self.use_prereleases:  # (copier's rule with pre-releases: left to copier)
            return ref
        url = self.src_path or (self.subproject.template.url if self.subproject.template is not None else None)
        return chosen_ref(str(url), None) if url else None

    @cached_property
    def template(self) -> Template:
        ahead = None if self.use_prereleases else _AHEAD.pop((str(self.src_path), self.resolved_vcs_ref), None)
        if ahead is None:
            return super().template
        self._cleanup_hooks.append(ahead._cleanup)
        return ahead

    @cached_property
    def jinja_env(self) -> Any:
        env = super().jinja_env
        env.compile = _compile_once(env.compile, env)  # type: ignore[method-assign]
        return env

    @cached_property
    def _file_mode_setting(self) -> str:
        """git's ``core.fileMode`` where the project is (copier asks it per file), or "" where git has none."""
        from copier._vcs import get_git
        from plumbum import ProcessExecutionError

        try:
            return str(get_git(context_dir=self.subproject.local_abspath)("config", "--type=bool", "--get", "core.fileMode")).strip()
        except (ProcessExecutionError, OSError):
            return ""

    def _sync_git_index_executable_bit(self, dst_relpath: Path, src_mode: int) -> None:
        # copier's method does nothing unless git's core.fileMode is false (its first step asks git, each time).
        if self._file_mode_setting == "false":
            super()._sync_git_index_executable_bit(dst_relpath, src_mode)


def run_copy(src_path: str, dst_path: Path, **options: Any) -> None:
    """``copier.run_copy`` with :class:`Worker`."""
    with Worker(src_path=src_path, dst_path=Path(dst_path), **options) as worker:
        worker.run_copy()


def run_update(dst_path: Path, **options: Any) -> None:
    """``copier.run_update`` with :class:`Worker`."""
    with Worker(dst_path=Path(dst_path), **options) as worker:
        worker.run_update()


__all__ = ["CopierError", "Worker", "run_copy", "run_update"]
