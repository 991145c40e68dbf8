"""copier's copy in a process of its own, started before discovery: ``azs-scaffold new`` without prompts.

Importing copier (with Jinja, pydantic and prompt_toolkit: about a third of a second of CPU) takes as long as discovery
(signing in, reading the Stack). In one process the two take turns, whatever the threads (Python runs one at a time);
in two they run side by side on a second core. So ``new`` starts this child first; it imports copier, clones the
template as soon as it is told which (:meth:`CopierProcess.clone_ahead`), and waits for the request on its standard
input: where to render, the answers (never a secret: :func:`~generator.operations.render.render` writes those after
copier), the discovery already made (the template's ``azs_discovery()`` then does not sign in again), the environment
to render in. It renders exactly as the in-process copy does (the same
:func:`~generator.operations.copier_worker.run_copy`) and answers with one JSON line.

Ctrl-C reaches both processes; SIGTERM the parent, which ends the child before removing the staging folder: either way
nothing is left behind, as before. Prompts need the terminal, so an interactive ``new`` copies in its own process.
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
# first): a ``generator`` folder there must not stand in for the installed package.
_CHILD = "import sys; del sys.path[0]; from generator.operations.copier_process import serve; serve()"
_LAST_WORDS = 400  # of the child's stderr, when it ends without an answer


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
                text=True, encoding="utf-8", start_new_session=os.name == "posix")
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
        child, self._child = self._child, None
        try:
            said, complaint = child.communicate(json.dumps(request) + "\n")
        except BaseException:
            _end(child)
            raise
        finally:
            remove_tree(self._scratch)
        answer = _answer(said)
        if answer is None:
            last = complaint.strip().splitlines()[-1][:_LAST_WORDS] if complaint.strip() else f"exit code {child.returncode}"
            raise ScaffoldError(f"copier's process ended without rendering the project ({last})")
        if "failure" in answer:
            raise CopierFailure(answer["failure"], answer["message"])
        if complaint.strip():  # what copier's tasks said on stderr (a lock's warning), as they would in-process
            sys.stderr.write(complaint if complaint.endswith("\n") else complaint + "\n")

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


def _answer(said: str) -> dict[str, Any] | None:
    lines = said.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else None
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


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

    import copier  # noqa: F401  (imported first: what this process is for)

    from generator._util.files import temporary_files_in
    from generator.operations.copier_worker import clone_ahead
    from generator.templating.copier_extension import restore_discoveries

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
            os.environ.clear()
            os.environ.update(request["environ"])
            restore_discoveries(request["discoveries"])
            copy_here(request["src"], Path(request["project"]), vcs_ref=request["vcs_ref"], data=request["data"],
                      user_defaults=request["user_defaults"], scratch=Path(request["scratch"]))
            print(json.dumps({}), flush=True)
            return
    except CopierFailure as failure:
        print(json.dumps({"failure": failure.kind, "message": failure.message}), flush=True)
    except KeyboardInterrupt:
        sys.exit(130)  # Ctrl-C reached the parent too: it says so and removes what was made
