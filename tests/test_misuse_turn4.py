"""Round 4 of bad input and misuse (docs/reliability.md R132 onwards): no other template touches the credentials,
every read of a user's file bounded, no hang, one line where a traceback was. The emulator's own cases are in
tests/test_misuse_emulator.py."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import GENERATOR_COMMAND, ROOT, cli, discover, git, new_project, one_error, run_cli, set_faults, with_credentials

pytestmark = pytest.mark.reliability

SP_FILE = "azureSecretSpConfig.json"


def _committed_project(info: dict, template_repo: Path, tmp_path: Path) -> Path:
    project = tmp_path / "project"
    new_project(info, project, template_repo)
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "generated")
    return project


def _fork(tmp_path: Path, second_version: dict[str, str]) -> Path:
    """Another template, with no task, migration or extension: v1.0.0 renders only the answers file, v2.0.0 adds
    ``second_version``'s files."""
    fork = tmp_path / "fork"
    (fork / "template").mkdir(parents=True)
    git(fork, "init", "-q")
    (fork / "copier.yml").write_text("_subdirectory: template\n_answers_file: .copier-answers.yml\n")
    (fork / "template" / "{{_copier_conf.answers_file}}.jinja").write_text("{{ _copier_answers|to_nice_yaml -}}\n")
    git(fork, "add", "-A")
    git(fork, "commit", "-qm", "v1")
    git(fork, "tag", "v1.0.0")
    for name, text in second_version.items():
        (fork / "template" / name).parent.mkdir(parents=True, exist_ok=True)
        (fork / "template" / name).write_text(text)
    git(fork, "add", "-A")
    git(fork, "commit", "-qm", "v2")
    git(fork, "tag", "v2.0.0")
    return fork


def _point_at(project: Path, template: Path, commit: str) -> None:
    answers = project / ".copier-answers.yml"
    text = re.sub(r"(?m)^_src_path:.*$", f"_src_path: {template}", answers.read_text())
    answers.write_text(re.sub(r"(?m)^_commit:.*$", f"_commit: {commit}", text))
    git(project, "commit", "-qam", "another template")


def test_r132_another_template_never_writes_the_credentials(emulator, template_repo, tmp_path):
    """A fork without tasks, migrations or extensions is refused until --trust (dry run alike); trusted, it
    upgrades the project but writes neither the service principal file, nor the CA file, nor a git-ignored path."""
    project = _committed_project(emulator.info(), template_repo, tmp_path)
    sp_before, ca_before = (project / SP_FILE).read_bytes(), (project / "certs/azure-stack-root.pem").read_bytes()
    fork = _fork(tmp_path, {SP_FILE: '{"clientSecret": "REPLACED-BY-FORK"}\n', "certs/azure-stack-root.pem": "FORK CA\n",
                            ".venv/planted.py": "FORK\n", "wheels/planted.txt": "FORK\n", "FORK.md": "from the fork\n"})
    _point_at(project, fork, "v1.0.0")
    for mode in ("--dry-run", "--yes"):
        result = run_cli("upgrade", str(project), mode)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        line = result.stderr.strip().splitlines()[-1]
        assert "is not azs-scaffold's own" in line and "pass --trust" in line, result.stderr
        assert git(project, "status", "--porcelain") == "" and (project / SP_FILE).read_bytes() == sp_before
    dry = run_cli("upgrade", str(project), "--dry-run", "--trust")
    assert dry.returncode == 0, dry.stderr
    assert "FORK.md" in dry.stdout and "REPLACED-BY-FORK" not in dry.stdout and "FORK CA" not in dry.stdout
    done = run_cli("upgrade", str(project), "--yes", "--trust")
    assert done.returncode == 0, done.stderr
    assert (project / "FORK.md").read_text() == "from the fork\n"
    assert (project / SP_FILE).read_bytes() == sp_before and stat.S_IMODE((project / SP_FILE).stat().st_mode) == 0o600
    assert (project / "certs/azure-stack-root.pem").read_bytes() == ca_before
    assert not (project / ".venv/planted.py").exists() and not (project / "wheels").exists()


def test_r133_a_linked_folder_the_upgrade_writes_into_is_refused(emulator, template_repo, tmp_path):
    """scripts/ moved out of the project and linked back: refused before anything is written, dry run alike."""
    project = _committed_project(emulator.info(), template_repo, tmp_path)
    shutil.move(project / "scripts", tmp_path / "outside-scripts")
    (project / "scripts").symlink_to(tmp_path / "outside-scripts")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "a linked folder")
    before = {path.name: path.read_bytes() for path in (tmp_path / "outside-scripts").iterdir() if path.is_file()}
    for mode in ("--dry-run", "--yes"):
        # --ci github: an upgrade is due (a current project has nothing to write: "Nothing to regenerate.").
        result = run_cli("upgrade", str(project), mode, "--trust", "--vcs-ref", "HEAD", "--ci", "github")
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        line = result.stderr.strip().splitlines()[-1]
        assert "scripts is a symbolic link" in line and "replace each link" in line, result.stderr
        assert git(project, "status", "--porcelain") == ""
    assert {path.name: path.read_bytes() for path in (tmp_path / "outside-scripts").iterdir() if path.is_file()} == before
    assert os.path.islink(project / "scripts")


# -- every read of a user's file bounded: regular files only, size-capped, links kept inside the project ----------


@pytest.mark.parametrize("command", [("upgrade", "{p}", "--check"), ("emulator", "--for-project", "{p}")])
def test_r134_an_answers_file_that_is_a_pipe_is_refused_at_once(tmp_path, command):
    project = tmp_path / "p"
    project.mkdir()
    os.mkfifo(project / ".copier-answers.yml")
    code, out, err = cli(*(part.format(p=project) for part in command), timeout=60)
    one_error(code, err, f"{project / '.copier-answers.yml'}: it is a named pipe, not a regular file; restore it from git")


def test_r134_a_requirements_file_that_is_a_pipe_stops_wheelhouse_at_once(tmp_path):
    os.mkfifo(tmp_path / "requirements.txt")
    code, out, err = cli("wheelhouse", str(tmp_path), "--python", "3.11", "--platform", "linux", timeout=60)
    one_error(code, err, "requirements.txt: it is a named pipe, not a regular file")


def test_r135_a_missing_project_folder_is_named(tmp_path):
    code, out, err = cli("emulator", "--for-project", str(tmp_path / "nonexistent"), timeout=60)
    one_error(code, err, f"{tmp_path / 'nonexistent'}: no such folder")


@pytest.mark.parametrize("name", ["pipe.py", "pyproject.toml", "setup.cfg", "requirements-dev.txt"])
def test_r136_doctor_never_blocks_on_a_pipe(tmp_path, name):
    (tmp_path / "a.py").write_text("import os\n")
    os.mkfifo(tmp_path / name)
    code, out, err = cli("doctor", str(tmp_path), timeout=60)
    assert "Traceback" not in err, err
    if name.endswith(".py"):  # a module not read is a finding; the rest of the project is examined
        assert f"{name}: not read: it is a named pipe, not a regular file" in out, out + err
    else:  # without the declarations, no requirement can be judged
        one_error(code, err, f"{tmp_path / name}: it is a named pipe, not a regular file")


def test_r137_doctor_reads_no_link_out_of_the_project_and_no_huge_module(tmp_path):
    """/dev/zero linked as a module, and a 20 MB module: neither is read (doctor stays under 1 GB of memory)."""
    (tmp_path / "a.py").write_text("import os\n")
    (tmp_path / "zero.py").symlink_to("/dev/zero")
    (tmp_path / "big.py").write_text(("x = " + "1+" * 1000 + "1\n") * 10000)
    capped = subprocess.run(["bash", "-c", 'ulimit -v 1500000 && exec "$@"', "capped", *GENERATOR_COMMAND, "doctor",
                             str(tmp_path)], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    out, err = capped.stdout, capped.stderr
    assert "Traceback" not in err and capped.returncode in (0, 1), err
    assert "zero.py: not read: it links to /dev/zero, outside the project" in out, out
    assert "big.py: not read: it is over 512 kB" in out, out


def test_r138_doctor_fix_through_a_dangling_link_is_one_line(tmp_path):
    (tmp_path / "app.py").write_text("import azure.mgmt.resource\n")
    (tmp_path / "requirements.txt").symlink_to("sub/req.txt")
    code, out, err = cli("doctor", str(tmp_path), "--fix", timeout=60)
    one_error(code, err, "requirements.txt links to")
    assert "which does not exist" in err and not (tmp_path / "sub").exists()


# -- no hang on a signal ---------------------------------------------------------------------------------------


def test_r139_a_signal_inside_an_import_lands_after_it(tmp_path):
    """SIGTERM while a module is being imported (as during `new`'s discovery, while copier is imported in a
    thread): KeyboardInterrupt comes once the import is done, never inside it, where it could leave a module's
    import lock held and a later import waiting for ever."""
    (tmp_path / "slow_module.py").write_text("import os, signal, time\nos.kill(os.getpid(), signal.SIGTERM)\n"
                                             "time.sleep(0.3)\nDONE = True\n")
    script = ("import sys, time\nsys.path.insert(0, sys.argv[1])\n"
              "from generator._util.interrupts import install_interrupt_handlers\ninstall_interrupt_handlers()\n"
              "try:\n    import slow_module\n    time.sleep(10)\n    print('not interrupted')\n"
              "except KeyboardInterrupt:\n"
              "    print('after the import' if getattr(sys.modules.get('slow_module'), 'DONE', False) else 'inside it')\n")
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60,
                            cwd=ROOT)
    assert result.stdout.strip() == "after the import", result.stdout + result.stderr


# -- one line, never a traceback -------------------------------------------------------------------------------


def test_r140_role_answers_whose_entries_are_not_objects_fail_no_discovery(emulator):
    """Role reading never fails a discovery: entries that are not objects are passed over."""
    info = emulator.info()
    options, env = with_credentials(info)
    for path, body in (("roleAssignments", '{"value": ["x", 5, null]}'),
                       ("roleDefinitions", '{"value": ["x", {"name": 5, "properties": 7}]}')):
        set_faults(info, replace=10, replace_status=200, replace_body=body, path=path)
        code, out, err = discover(info, *options, env=env)
        assert code == 0 and "Traceback" not in err, err
        set_faults(info)


def test_r141_capability_answers_of_the_wrong_shape_are_passed_over(emulator, tmp_path):
    info = emulator.info()
    options, env = with_credentials(info)
    set_faults(info, replace=10, replace_status=200, replace_body='{"value": [{"x": 1}, "Standard_A1", null]}', path="vmSizes")
    code, out, err = discover(info, *options, "--capabilities", str(tmp_path / "caps.json"), env=env)
    assert code == 0 and "Traceback" not in err, err
    assert json.loads((tmp_path / "caps.json").read_text())["vmSizes"] == []


def test_r142_an_emulator_host_name_longer_than_a_common_name_holds(start_emulator):
    """--region and --fqdn whose host names pass the 64 characters an X.509 common name holds: named in the
    certificate's alternative names only, and TLS to them verifies."""
    info = start_emulator(region="westeurope-01", fqdn="azurestack.corp.contoso-manufacturing.com").info()
    assert any(len(host) > 64 for host in re.findall(r"https://([^/:]+)", json.dumps(info)))
    options, env = with_credentials(info)
    code, out, err = discover(info, *options, env=env)
    assert code == 0 and "Traceback" not in err, err


# -- terminal escapes: whatever a server or a template says is printed as itself --------------------------------

HOSTILE = "\u001b]0;PWNED-TITLE\u0007\u001b[31mOwner\nRoles             Reader at /"


def test_r143_a_role_assignment_that_forges_a_line_is_printed_as_itself(emulator):
    info = emulator.info()
    options, env = with_credentials(info)
    body = json.dumps({"value": [{"properties": {"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/x",
                                                 "scope": HOSTILE}}]})
    set_faults(info, replace=10, replace_status=200, replace_body=body, path="roleAssignments")
    code, out, err = discover(info, *options, env=env)
    assert code == 0 and "Traceback" not in err, err
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert [line for line in out.splitlines() if line.startswith("Roles")] == \
        ["Roles             x at \\x1b]0;PWNED-TITLE\\x07\\x1b[31mOwner\\nRoles             Reader at /"], out


def test_r144_a_templates_resource_type_with_escapes_is_printed_as_itself(tmp_path):
    (tmp_path / "app.py").write_text("import os\n")
    template = {"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                "contentVersion": "1.0.0.0",
                "resources": [{"type": "\u001b]0;PWNED-TITLE\u0007\u001b[31mMicrosoft.Evil/things", "apiVersion": "2019-01-01",
                               "name": "x"}]}
    (tmp_path / "azuredeploy.json").write_text(json.dumps(template))
    code, out, err = cli("doctor", str(tmp_path), timeout=60)
    assert "Traceback" not in err, err
    assert "\x1b" not in out + err and "\\x1b]0;PWNED-TITLE\\x07\\x1b[31mMicrosoft.Evil " in out, out


@pytest.mark.parametrize(("status", "body", "content_type"), [
    (429, '{"error": "temporarily_unavailable", "error_description": "throttled"}', "application/json"),
    (503, "<html><body>Service Unavailable</body></html>", "text/html"),
])
def test_r145_a_throttled_or_down_sign_in_host_is_not_blamed_on_the_credentials(emulator, status, body, content_type):
    info = emulator.info()
    options, env = with_credentials(info)
    set_faults(info, replace=50, replace_status=status, replace_body=body, replace_content_type=content_type, path="oauth2")
    code, out, err = discover(info, "--timeout", "3", *options, env=env)
    line = one_error(code, err, "sign-in at")
    assert f"the sign-in host is busy (HTTP {status}" in line and "check the client id" not in line, line


def test_r146_emulator_trust_with_a_python_that_is_no_python(emulator, tmp_path):
    info_file = tmp_path / "E.json"
    info_file.write_text(json.dumps(emulator.info()))
    code, out, err = cli("emulator", "trust", "--python", "/bin/echo", "--info-file", str(info_file), timeout=60)
    one_error(code, err, "--python /bin/echo is not a Python with certifi")


def test_r148_a_dry_run_names_the_project_never_its_scratch_copy(emulator, template_repo, tmp_path):
    project = _committed_project(emulator.info(), template_repo, tmp_path)
    answers = project / ".copier-answers.yml"
    answers.write_text(re.sub(r"(?m)^_commit:.*$", "_commit: deadbee", answers.read_text()))
    git(project, "commit", "-qam", "a version nobody has")
    result = run_cli("upgrade", str(project), "--dry-run", "--trust", "--vcs-ref", "HEAD")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert str(project) in line and "azs-upgrade-" not in line, line


def test_r149_an_interrupt_delivered_to_another_thread_waits_for_the_held_work(tmp_path):
    """Ctrl-C to the process group while upgrade --yes has copier writing: the kernel may hand the signal to a
    thread other than the main one (azure-core's, discovery's), whose mask does not block it. It still waits."""
    script = ("import signal, sys, threading, time\n"
              "from generator._util.interrupts import held_interrupts\n"
              "idle = threading.Event()\n"
              "other = threading.Thread(target=idle.wait, daemon=True)\nother.start()\n"
              "try:\n"
              "    with held_interrupts() as arrived:\n"
              "        signal.pthread_kill(other.ident, signal.SIGINT)\n"
              "        time.sleep(0.5)\n"
              "        print('held work done')\n"
              "    print('arrived:', [s.name for s in arrived])\n"
              "except KeyboardInterrupt:\n"
              "    print('interrupted inside the hold')\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.stdout.splitlines() == ["held work done", "arrived: ['SIGINT']"], result.stdout + result.stderr


@pytest.mark.parametrize("option", ["--info-file", "--stand-in-ca"])
def test_r182_emulator_trust_reads_no_pipe_and_no_device(tmp_path, option):
    pipe = tmp_path / "info.fifo"
    os.mkfifo(pipe)
    code, out, err = cli("emulator", "trust", "--python", sys.executable, option, str(pipe), timeout=60)
    one_error(code, err, f"{option} {pipe}: it is a named pipe, not a regular file")
    code, out, err = cli("emulator", "trust", "--python", sys.executable, option, "/dev/zero", timeout=60)
    one_error(code, err, f"{option} /dev/zero: it is a character device, not a regular file")


@pytest.mark.parametrize(("command", "value"), [(("discover", "--arm-endpoint", "https://management.local.azurestack.external/",
                                                  "--timeout"), "1e10"),
                                                (("discover", "--arm-endpoint", "https://x.example/", "--timeout"), "100000"),
                                                (("emulator", "--registration-delay"), "1e10")])
def test_r183_seconds_past_a_day_are_refused_before_anything_runs(command, value):
    code, out, err = cli(*command, value, timeout=60)
    assert code == 2 and "Traceback" not in err, err
    assert f"argument {command[-1]}: {value} seconds is more than a day" in err, err


def test_r184_an_unlocked_requirements_file_is_named_as_itself(tmp_path):
    (tmp_path / "requirements.txt").write_text("azure-mgmt-resource\n")
    code, out, err = cli("wheelhouse", str(tmp_path), "--python", "3.11", "--platform", "linux", timeout=60)
    line = one_error(code, err, "requirements.txt line 1 is not an entry")
    assert "pins.lock" not in line, line


@pytest.mark.reliability
def test_r197_a_projects_template_that_is_a_pipe_is_refused_at_once(tmp_path):
    """The generated project's one JSON reader (samples/azure_stack/files.py, which template_deployment.py reads its
    template with) never waits on a named pipe."""
    fifo = tmp_path / "storage_and_network.json"
    os.mkfifo(fifo)
    reader = ROOT / "template" / "samples" / "azure_stack" / "files.py"
    code = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location('files', sys.argv[1]); "
            "files = importlib.util.module_from_spec(spec); spec.loader.exec_module(files)\n"
            "try:\n    files.read_json(__import__('pathlib').Path(sys.argv[2]), 'ARM template')\n"
            "except files.ConfigError as error:\n    print(error)")
    result = subprocess.run([sys.executable, "-c", code, str(reader), str(fifo)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and f"the ARM template {fifo} is not a regular file" in result.stdout, result
