"""copier's copy in a process of its own, started before discovery: ``azs-scaffold new`` without prompts.

Importing copier (with Jinja, pydantic and prompt_toolkit: about a third of a second of CPU) takes as long as discovery
(signing in, reading the Stack). In one process the two take turns, whatever the threads (Python runs one at a time);
in two they run side by side on a second core. So ``new`` starts this child first; it imports copier, clones the
template as soon as it is told which (:meth:`CopierProcess.clone_ahead`), and waits for the request on its standard
input: where to render, the answers (never a secret: :func:`~generator.operations.render.render` writes those after
copier), the discovery already made (the template's ``azs_discovery()`` then does not sign in again), the environment
to render in. It renders exactly as the in-process copy does (the same :func:`copy_here`) and answers with one line
marked :data:`_ANSWER` on its standard output; what copier's tasks print there, and on stderr, is handed on to the
user's as in-process.

The child runs in a process group of its own (POSIX): Ctrl-C and SIGTERM reach the parent, which ends the child and
the git processes copier started before removing the staging folder; a parent that dies without a word leaves the
child to read the end of its input, remove its clone and exit. Prompts need the terminal, so an interactive ``new``
copies in its own process.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from generator._util.files import remove_tree
from generator.errors import ScaffoldError

# The child runs this module's ``serve``, with the folder the parent runs in taken off ``sys.path`` (``-c`` puts it
# first as "", unless PYTHONSAFEPATH): a ``generator`` folder there must not stand in for the installed package.
_CHILD = ("import sys; sys.path[:1] = [] if sys.path[:1] == [''] else sys.path[:1]; "
          "from generator.operations.copier_process import serve; serve()")
_LAST_WORDS = 400  # of the child's stderr, when it ends without an answer
# The line that carries the child's answer, apart from whatever copier's tasks print on the same standard output.
_ANSWER = "\x1eazs-scaffold copier answer: "


class CopierFailure(ScaffoldError):
    """copier refused or failed in the child (``kind``: "render" for the template or the answers, "write" for the
    disk); ``message`` is copier's own, in one line."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.message = kind, message


class CopierProcess:
    """A child process with copier imported, for one copy. Use as a context manager: leaving it ends the child."""

    def __init__(self) -> None:
        # The clone made ahead lives here until the copy takes it; removed with the child, whatever happened.
        self._scratch = Path(tempfile.mkdtemp(prefix="azs-scaffold-copier-"))
        try:
            # A process group of its own (POSIX): ending the child ends the git processes copier started too.
            self._child: subprocess.Popen[str] | None = subprocess.Popen(
                [sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, encoding="utf-8", errors="replace", start_new_session=os.name == "posix",
                env={**os.environ, "PYTHONIOENCODING": "utf-8"})
        except BaseException:
            shutil.rmtree(self._scratch, ignore_errors=True)
            raise

    @classmethod
    def start(cls) -> CopierProcess | None:
        """A started child, or None where no process can be started (a limit on processes, no memory): copier then
        runs in the caller's process, a little later, as it does with prompts."""
        try:
            return cls()
        except OSError:
            return None

    def __enter__(self) -> CopierProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def clone_ahead(self, src: str, vcs_ref: str | None) -> None:
        """Have the child clone ``src`` at ``vcs_ref`` once copier is imported, before the copy asks for it."""
        if self._child is not None and self._child.stdin is not None:
            try:
                self._child.stdin.write(json.dumps({"ahead": {"src": src, "vcs_ref": vcs_ref, "scratch": str(self._scratch)}}) + "\n")
                self._child.stdin.flush()
            except OSError:
                pass  # the child is gone: the copy says so

    def copy(self, src: str, project: Path, *, vcs_ref: str | None, data: dict[str, Any], user_defaults: dict[str, Any],
             scratch: Path, discoveries: list[Any]) -> None:
        """copier's copy of ``src`` at ``vcs_ref`` into ``project``, its temporary files in ``scratch``; raises
        :class:`CopierFailure`, or :class:`~generator.errors.ScaffoldError` when the child ends without an answer."""
        if self._child is None:
            raise ScaffoldError("copier's process was used already")
        request = {"copy": {"src": src, "project": str(project), "vcs_ref": vcs_ref, "data": data, "user_defaults": user_defaults,
                   "scratch": str(scratch), "discoveries": discoveries, "environ": dict(os.environ)}}
        child = self._child
        try:
            said, complaint = child.communicate(json.dumps(request) + "\n")
        except BaseException:
            _end(child)
            raise
        finally:
            self._child = None
            remove_tree(self._scratch)
        printed, answer = _answer(said)
        # What copier's tasks printed (a lock's warning, a task's reason for failing), as they would in-process.
        for stream, text in ((sys.stdout, printed), (sys.stderr, complaint if answer is not None else "")):
            if text.strip():
                stream.write(text if text.endswith("\n") else text + "\n")
                stream.flush()
        if answer is None:
            raise ScaffoldError(f"copier's process ended without rendering the project ({_why_ended(child.returncode, complaint)});"
                                " nothing of the project was kept: run the command again")
        if "failure" in answer:
            raise CopierFailure(answer["failure"], answer["message"])

    def close(self) -> None:
        """End the child if it still runs (a failure before or during the copy); its pipes closed."""
        child, self._child = self._child, None
        if child is not None:
            _end(child)
        remove_tree(self._scratch)


def _end(child: subprocess.Popen[str]) -> None:
    """Kill the child and what it started (its process group, on POSIX); wait for it."""
    if child.poll() is None:
        if os.name == "posix":
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
        else:
            child.kill()
    child.communicate()


def _why_ended(code: int | None, complaint: str) -> str:
    """Why the child ended without an answer: its last words, else the signal that ended it, else its exit code."""
    if complaint.strip():
        return complaint.strip().splitlines()[-1][:_LAST_WORDS]
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        # SIGKILL from no one here: most often the system's, when memory ran out.
        return f"killed by {name}" + (", as the system does when memory runs out" if -code == signal.SIGKILL else "")
    return f"exit code {code}"


def _answer(said: str) -> tuple[str, dict[str, Any] | None]:
    """What the tasks printed on the child's standard output, and its answer (None when it gave none)."""
    printed, marked, rest = said.rpartition(_ANSWER)
    if not marked:
        return said, None
    try:
        answer = json.loads(rest.strip())
    except ValueError:
        return printed, None
    return printed, answer if isinstance(answer, dict) else None


def copy_here(src: str, project: Path, *, vcs_ref: str | None, data: dict[str, Any], user_defaults: dict[str, Any],
              scratch: Path, interactive: bool = False) -> None:
    """copier's copy in this process, its temporary files in ``scratch``: what the child runs, and what ``new`` runs
    itself with prompts (and a batch for each team). copier's or Jinja's refusal ("render") and the disk's ("write")
    are raised as :class:`CopierFailure`; Ctrl-C at one of copier's prompts as KeyboardInterrupt."""
    import warnings

    from copier.errors import CopierAnswersInterrupt, CopierError
    from jinja2 import TemplateError

    from generator._util.files import temporary_files_in
    from generator.discovery.http import one_line
    from generator.operations.copier_worker import run_copy

    try:
        with temporary_files_in(scratch), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # copier warns about an untagged template; the project records the commit
            run_copy(src, project, data=data, user_defaults=user_defaults, defaults=not interactive, unsafe=True,
                     vcs_ref=vcs_ref, quiet=True)
    except CopierAnswersInterrupt:
        raise KeyboardInterrupt from None
    except (CopierError, TemplateError, ValueError) as error:  # TemplateError: a broken template
        raise CopierFailure("render", one_line(str(error))) from None
    except OSError as error:
        raise CopierFailure("write", one_line(error.strerror or str(error), 160)) from None


def serve() -> None:
    """The child: import copier, clone ahead when told, then render the one copy read from standard input."""
    import threading
    import warnings

    warnings.simplefilter("ignore")  # as in-process: copier's warnings (an untagged or dirty template) are not the user's

    import copier  # noqa: F401  (imported first: what this process is for)

    from generator._util.files import temporary_files_in
    from generator.operations.copier_worker import clone_ahead, drop_clones_ahead
    from generator.templating.copier_extension import restore_discoveries
    from generator.templating.template_source import set_for_copier

    def clone(src: str, vcs_ref: str | None, scratch: str) -> None:
        with temporary_files_in(Path(scratch)):
            clone_ahead(src, vcs_ref)

    cloning: threading.Thread | None = None
    try:
        for line in sys.stdin:
            message = json.loads(line)
            if "ahead" in message:
                # git clones in processes of its own; meanwhile what the template's answer checks use is imported.
                cloning = threading.Thread(target=clone, args=(*(message["ahead"][k] for k in ("src", "vcs_ref", "scratch")),))
                cloning.start()
                import generator.discovery  # noqa: F401
                continue
            if cloning is not None:
                cloning.join()
            request = message["copy"]
            # The parent's environment now, for copier's tasks too (plumbum keeps a copy of its own: set_for_copier).
            for name in set(os.environ) - set(request["environ"]):
                set_for_copier(name, None)
            for name, value in request["environ"].items():
                set_for_copier(name, value)
            restore_discoveries(request["discoveries"])
            copy_here(request["src"], Path(request["project"]), vcs_ref=request["vcs_ref"], data=request["data"],
                      user_defaults=request["user_defaults"], scratch=Path(request["scratch"]))
            _say({})
            return
    except CopierFailure as failure:
        _say({"failure": failure.kind, "message": failure.message})
    except KeyboardInterrupt:
        sys.exit(130)  # the parent says so and removes what was made
    finally:
        # The parent ended without asking (discovery failed, or it died): the clone made ahead is removed here.
        if cloning is not None:
            cloning.join()
        drop_clones_ahead()


def _say(answer: dict[str, str]) -> None:
    print(f"\n{_ANSWER}{json.dumps(answer)}", flush=True)
