"""``new`` renders in a copier process of its own, started before discovery (generator/operations/copier_process.py):
the same project as a copy in-process, one clone of the template, nothing of it left behind whatever happens."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator.discovery import DiscoveryRequest, ServicePrincipal, discover_stack
from generator.operations.copier_process import CopierProcess
from generator.operations.render import NewProject, render
from generator.templating.template_source import resolve_template, reusable_clone
from tests.helpers import SP_FILE, cli, new_args, one_error


def _request(info: dict, destination: Path, template_repo: Path) -> NewProject:
    principal = ServicePrincipal(info["client_id"], client_secret=info["client_secret"])
    return NewProject(destination=str(destination), template=str(template_repo), vcs_ref="HEAD", samples=("resource_groups",),
                      discovery=DiscoveryRequest(arm_endpoint=info["arm_endpoint"], root_ca=info["root_ca"], principal=principal))


def _tree(root: Path) -> dict[str, tuple[int, bytes]]:
    return {str(p.relative_to(root)): (stat.S_IMODE(p.stat().st_mode), p.read_bytes())
            for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.relative_to(root).parts}


def test_the_copier_process_renders_what_copier_renders_here(emulator, template_repo, tmp_path):
    """The same discovery rendered by the child and in this process: the same files, contents and modes; and again
    after the template changed (day two: the child renders the new commit, not a clone kept from the first run)."""
    info = emulator.info()
    found = discover_stack(_request(info, tmp_path, template_repo).discovery)
    source = reusable_clone(resolve_template(str(template_repo), "HEAD"))
    here, there = tmp_path / "here" / "project", tmp_path / "there" / "project"
    render(_request(info, here, template_repo), found, here, source)
    with CopierProcess() as copier:
        copier.clone_ahead(source.src, source.ref)
        render(_request(info, there, template_repo), found, there, source, copier)
    assert _tree(here) == _tree(there)
    assert stat.S_IMODE((there / SP_FILE).stat().st_mode) == 0o600

    changed = tmp_path / "changed-template"
    subprocess.run(["git", "clone", "-q", str(template_repo), str(changed)], check=True)
    (changed / "template" / "README.md.jinja").write_text("# {{ project_name }}, changed\n")
    subprocess.run(["git", "-C", str(changed), "commit", "-qam", "changed"], check=True)
    source = reusable_clone(resolve_template(str(changed), "HEAD"))
    again = tmp_path / "again" / "project"
    with CopierProcess() as copier:
        copier.clone_ahead(source.src, source.ref)
        render(_request(info, again, changed), found, again, source, copier)
    assert (again / "README.md").read_text() == "# project, changed\n"


def test_new_clones_the_template_once(emulator, template_repo, tmp_path):
    """The clone made ahead is the one copier renders from: git clones the template once a project, not twice."""
    trace = tmp_path / "git-trace.log"
    args, env = new_args(emulator.info(), tmp_path / "project", "--template", str(template_repo), "--samples",
                         "resource_groups", "--no-git")
    code, _, err = cli(*args, env={**env, "GIT_TRACE": str(trace)})
    assert code == 0, err
    clones = [line for line in trace.read_text().splitlines() if "git clone" in line or "'clone'" in line]
    assert len(clones) == 1, clones


@pytest.mark.reliability
def test_a_failed_discovery_ends_the_copier_process_and_leaves_nothing(emulator, template_repo, tmp_path):
    """Refused credentials end the run before copier is asked anything: no child left running, no clone left in the
    temporary directory, nothing at the destination; then the right secret makes the project (day two)."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    args, env = new_args(emulator.info(), tmp_path / "project", "--template", str(template_repo))
    one_error(*cli(*args, env={**env, "AZS_R_SECRET": "not-the-secret", "TMPDIR": str(scratch)})[::2], "sign-in")
    assert not (tmp_path / "project").exists() and not list(scratch.iterdir())
    code, _, err = cli(*args, env={**env, "TMPDIR": str(scratch)})
    assert code == 0, err
    assert (tmp_path / "project" / "stack.json").exists() and not list(scratch.iterdir())


def _clone_made(scratch: Path, seconds: float = 30) -> bool:
    """Whether copier's clone appears in ``scratch`` (its checkout under way or done) within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(p.name.startswith("copier._vcs.clone") for p in scratch.iterdir()):
            return True
        time.sleep(0.01)
    return False


def _running_in_group(group: int) -> list[str]:
    """The processes of process group ``group`` still running (not zombies waiting for their parent), from /proc."""
    running = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[2]) == group and fields[0] != "Z":
            running.append(stat_file.parent.name)
    return running


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="process groups read from /proc")
def test_closing_ends_the_child_with_its_git_and_removes_its_clone(template_repo):
    """Closed once the clone is being made: the child's whole process group (git among it) is gone, and the clone."""
    source = reusable_clone(resolve_template(str(template_repo), "HEAD"))
    copier = CopierProcess()
    child = copier._child
    assert child is not None
    copier.clone_ahead(source.src, source.ref)
    assert _clone_made(copier._scratch)
    copier.close()
    assert child.returncode is not None  # ended and waited for
    assert not _running_in_group(child.pid)  # nothing of its group left running (git among it)
    assert not copier._scratch.exists()


def test_a_parent_gone_without_a_word_leaves_no_clone(template_repo):
    """The parent dies (SIGKILL, a closed terminal) after the clone began: the child reads the end of its input,
    removes the clone it made and exits."""
    source = reusable_clone(resolve_template(str(template_repo), "HEAD"))
    copier = CopierProcess()
    child = copier._child
    assert child is not None and child.stdin is not None
    copier.clone_ahead(source.src, source.ref)
    assert _clone_made(copier._scratch)
    child.stdin.close()  # what the parent's death does to the child's input
    assert child.wait(timeout=60) == 0
    assert not [p.name for p in copier._scratch.iterdir()]
    copier._child = None
    copier.close()


def _template_with_task(template_repo: Path, folder: Path, command: str) -> Path:
    subprocess.run(["git", "clone", "-q", str(template_repo), str(folder)], check=True)
    copier_yml = folder / "copier.yml"
    copier_yml.write_text(copier_yml.read_text().replace("_tasks:\n", f"_tasks:\n  - {command!r}\n", 1))
    subprocess.run(["git", "-C", str(folder), "commit", "-qam", "a task that speaks"], check=True)
    return folder


def test_what_a_task_prints_reaches_the_user_and_the_answer_is_kept_apart(emulator, template_repo, tmp_path):
    """A task printing on stdout without a newline: new still succeeds, and the user sees it, as in-process."""
    template = _template_with_task(template_repo, tmp_path / "template", "printf task-says-hi")
    args, env = new_args(emulator.info(), tmp_path / "project", "--template", str(template), "--samples", "resource_groups")
    code, out, err = cli(*args, env=env)
    assert code == 0, err
    assert "task-says-hi" in out and (tmp_path / "project" / "stack.json").exists()


def test_a_failing_tasks_reason_reaches_the_user(emulator, template_repo, tmp_path):
    template = _template_with_task(template_repo, tmp_path / "template", "sh -c 'echo the-reason-it-failed >&2; exit 3'")
    args, env = new_args(emulator.info(), tmp_path / "project", "--template", str(template), "--samples", "resource_groups")
    code, _, err = cli(*args, env=env)
    assert code == 1 and "Traceback" not in err, err
    assert "the-reason-it-failed" in err and "copier could not render the project" in err
    assert not (tmp_path / "project").exists()


@pytest.mark.reliability
@pytest.mark.skipif(os.name == "nt", reason="POSIX paths")
def test_a_generator_folder_where_new_runs_is_not_imported_by_the_child(emulator, template_repo, tmp_path):
    """A team's repository with a ``generator`` package of its own (cwd): the child imports azs-scaffold's, not that."""
    team = tmp_path / "team-repo"
    (team / "generator" / "operations").mkdir(parents=True)
    for init in (team / "generator" / "__init__.py", team / "generator" / "operations" / "__init__.py"):
        init.write_text("raise SystemExit('the team package was imported')\n")
    args, env = new_args(emulator.info(), tmp_path / "project", "--template", str(template_repo), "--samples",
                         "resource_groups")
    # The parent as the console script runs (its folder first on sys.path, not the current one).
    script = "import sys; del sys.path[0]; from generator.cli import run; sys.argv[0] = 'azs-scaffold'; sys.exit(run())"
    result = subprocess.run([sys.executable, "-c", script, *args], cwd=team, capture_output=True, text=True,
                            env={**os.environ, **env}, stdin=subprocess.DEVNULL, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "project" / "stack.json").exists()


@pytest.mark.reliability
def test_where_no_process_can_start_copier_runs_in_process(monkeypatch, tmp_path):
    """A Python that cannot be started (here: not there) gives no child and leaves no scratch folder behind; ``new``
    then copies in its own process, as with prompts."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    assert CopierProcess.start() is None
    assert not list(tmp_path.iterdir())


def test_what_copiers_tasks_say_reaches_the_user(emulator, template_repo, tmp_path):
    """The lock task's warning (here: a template whose constraints name no package) is said on new's stderr, as when
    copier ran in new's own process; the project is still made."""
    broken = tmp_path / "template"
    subprocess.run(["git", "clone", "-q", str(template_repo), str(broken)], check=True)
    (broken / "template" / "constraints.txt.jinja").write_text("# nothing proven\n")
    subprocess.run(["git", "-C", str(broken), "commit", "-qam", "no constraints"], check=True)
    args, env = new_args(emulator.info(), tmp_path / "project", "--template", str(broken), "--samples", "resource_groups")
    code, _, err = cli(*args, env=env)
    assert code == 0, err
    assert "lock: warning: constraints.txt names no package" in err
    assert (tmp_path / "project" / "stack.json").exists()


@pytest.mark.reliability
@pytest.mark.skipif(os.name != "posix", reason="signals as POSIX has them")
def test_r270_a_child_killed_from_outside_is_said_with_its_signal_and_what_to_do(template_repo, tmp_path):
    """The child killed before it answered (the system's out-of-memory killer sends SIGKILL): one line naming the
    signal and saying to run again; the parent stays up to remove what was made."""
    import signal

    from generator.errors import ScaffoldError

    source = reusable_clone(resolve_template(str(template_repo), "HEAD"))
    with CopierProcess() as copier:
        assert copier._child is not None
        os.kill(copier._child.pid, signal.SIGKILL)
        copier._child.wait()
        with pytest.raises(ScaffoldError) as raised:
            copier.copy(source.src, tmp_path / "project", vcs_ref=source.ref, data={}, user_defaults={},
                        scratch=tmp_path / "scratch", discoveries=[])
    message = str(raised.value)
    assert "killed by SIGKILL" in message and "memory" in message and "run the command again" in message, message
    assert "\n" not in message
    assert not copier._scratch.exists()
