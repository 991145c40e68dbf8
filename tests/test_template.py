"""The copier template end to end: render against the emulator, then run the generated project.

Every generated project is bootstrapped into its own venv (from a session wheelhouse), trusts the
emulator's CA only through that bootstrap, registers its providers and runs every sample.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import GENERATOR_COMMAND, PUBLIC_CA_BUNDLE, ModeWatcher, Terminal, new_project
from tests.project import bootstrap, bundle_path, run, run_all_steps, venv_python, watch_process_list

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("identity", ["azure_ad", "adfs"])
@pytest.mark.parametrize(("release", "profile"), [("2008", "2019_03_01_hybrid"), ("2108", "2020_09_01_hybrid")])
def test_generated_project_runs_end_to_end(start_emulator, template_repo, project_env, tmp_path, release, profile, identity):
    info = start_emulator(release=release, identity_system=identity).info()
    project = tmp_path / "project"
    new_project(info, project, template_repo)
    stack = json.loads((project / "stack.json").read_text())
    assert stack["profile"] == profile and stack["identitySystem"] == identity
    assert stack["tenantId"] == ("adfs" if identity == "adfs" else info["tenant_id"])
    run_all_steps(project, project_env)


@pytest.mark.reliability
def test_bootstrap_twice_trusts_the_ca_once(start_emulator, template_repo, project_env, tmp_path):
    info = start_emulator().info()
    project = tmp_path / "project"
    new_project(info, project, template_repo, samples=("resource_groups",))
    assert "azure-mgmt-storage" not in (project / "requirements.txt").read_text()  # only what the sample needs
    first = bootstrap(project, project_env)
    assert first.returncode == 0, first.stderr
    second = bootstrap(project, project_env)
    assert second.returncode == 0 and "already trusted" in second.stdout
    ca_body = "".join((project / "certs" / "azure-stack-root.pem").read_text().split()[2:-2])
    bundle = "".join(bundle_path(project, project_env).read_text().split())
    assert bundle.count(ca_body) == 1
    assert bundle.count("#Label:AzureStackSelfSignedRootCert") == 1


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_bootstrap_installs_with_uv_or_pip(start_emulator, template_repo, project_env, tmp_path, installer):
    """uv when it is beside the Python (azs-scaffold depends on it), pip when asked or when there is no uv;
    the CA trust step is the same either way, and the output is a line per step."""
    info = start_emulator().info()
    project = tmp_path / "project"
    new_project(info, project, template_repo, samples=("resource_groups",))
    result = bootstrap(project, project_env, "--installer", installer)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Installing the locked packages (requirements.txt, hashes checked) with {installer}" in result.stdout
    assert "Successfully installed" not in result.stdout and "Installed " not in result.stdout  # the installer's own output is kept back
    assert "Trusting the Stack's root CA" in result.stdout
    for step in ("register_providers.py", "samples/resource_groups.py"):
        ran = run(project, project_env, venv_python(project), step)
        assert ran.returncode == 0, ran.stderr


def test_native_copier_copy(start_emulator, template_repo, project_env, tmp_path):
    info = start_emulator(release="2008").info()
    project = tmp_path / "native"
    copier = str(Path(sys.executable).with_name("copier"))
    env = {**project_env, "AZURE_CLIENT_SECRET": info["client_secret"]}  # the secret never goes on a command line
    data = {"arm_endpoint": info["arm_endpoint"], "ca_cert": info["ca_cert"], "client_id": info["client_id"],
            "project_name": "native-project"}
    command = [copier, "copy", "--trust", "--defaults", "--vcs-ref", "HEAD", "--quiet"]
    for key, value in data.items():
        command += ["--data", f"{key}={value}"]
    # copier's process trusts the machine's public CAs (the stand-in for login.microsoftonline.com's among them).
    machine_trust = {**env, "REQUESTS_CA_BUNDLE": PUBLIC_CA_BUNDLE}
    result = subprocess.run([*command, str(template_repo), str(project)], env=machine_trust, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    stack = json.loads((project / "stack.json").read_text())
    assert stack["profile"] == "2019_03_01_hybrid"
    assert json.loads((project / "azureSecretSpConfig.json").read_text())["clientSecret"] == ""
    run_all_steps(project, env)


def test_global_azure_mode_gets_latest_and_runs(start_emulator, template_repo, project_env, tmp_path):
    info = start_emulator(release="azure").info()
    project = tmp_path / "project"
    assert new_project(info, project, template_repo).profile == "latest"
    assert json.loads((project / "stack.json").read_text())["knownProfile"] == "latest"
    run_all_steps(project, project_env)


@pytest.mark.reliability
def test_the_secret_is_in_exactly_one_file_and_no_output(start_emulator, template_repo, project_env, tmp_path):
    info = start_emulator().info()
    secret = info["client_secret"]
    project = tmp_path / "project"
    env = {**project_env, "AZS_SECRET": secret, "REQUESTS_CA_BUNDLE": PUBLIC_CA_BUNDLE}
    with watch_process_list(secret) as seen_while_generating:
        generated = subprocess.run(
            [*GENERATOR_COMMAND, "new", str(project), "--arm-endpoint", info["arm_endpoint"], "--root-ca",
             info["ca_cert"], "--client-id", info["client_id"], "--client-secret-env", "AZS_SECRET", "--non-interactive",
             "--template", str(template_repo), "--vcs-ref", "HEAD"],
            env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
        )
    assert seen_while_generating == []
    assert generated.returncode == 0, generated.stderr
    with watch_process_list(secret) as seen:
        outputs = [generated, *run_all_steps(project, project_env)]
    assert seen == []
    for result in outputs:
        assert secret not in result.stdout + result.stderr, result.args
    holders = [p.relative_to(project).as_posix() for p in project.rglob("*")
               if p.is_file() and ".venv" not in p.parts and secret.encode() in p.read_bytes()]
    assert holders == ["azureSecretSpConfig.json"]
    assert stat.S_IMODE(os.stat(project / "azureSecretSpConfig.json").st_mode) == 0o600
    assert "azureSecretSpConfig.json" in (project / ".gitignore").read_text().split()
    answers = (project / ".copier-answers.yml").read_text()
    assert "client_secret" not in answers and secret not in answers


@pytest.mark.reliability
def test_a_non_empty_destination_is_refused_untouched(start_emulator, template_repo, tmp_path):
    info = start_emulator().info()
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(Exception, match="exists and is not empty"):
        new_project(info, tmp_path, template_repo)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_demo_runs_the_whole_flow(template_repo, project_env, tmp_path):
    result = subprocess.run(
        [*GENERATOR_COMMAND, "demo", str(tmp_path / "demo"), "--template", str(template_repo)],
        env=project_env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "[5/5] Running the resource group sample" in result.stdout and "Deleted azs-sample-rg-" in result.stdout


def _copier_copy_in_a_terminal(template_repo: Path, project: Path) -> Terminal:
    """``copier copy`` of the template into ``project`` in a pseudo-terminal."""
    copier = str(Path(sys.executable).with_name("copier"))
    return Terminal(copier, ["copy", "--trust", "--vcs-ref", "HEAD", str(template_repo), str(project)])


def test_native_copier_copy_asks_with_its_own_prompts(start_emulator, template_repo, tmp_path):
    """The interactive way in: copier's prompts in a terminal, the secret typed at a hidden prompt."""
    info = start_emulator().info()
    project = tmp_path / "interactive"
    terminal = _copier_copy_in_a_terminal(template_repo, project)
    answers = [  # (prompt, typed text; empty takes what the prompt offers, a new question)
        ("Name of the project", "team-interactive", True),
        ("Samples to generate", "", True),
        ("CI definitions", "", True),
        ("Resource Manager endpoint", "http://not-https", True),  # refused by the validator, asked again
        ("is not https://", info["arm_endpoint"], False),
        ("root CA in PEM format", info["ca_cert"], True),
        ("release", "", True),
        ("Azure AD directory", "", True),
        ("Application \\(client\\) id", info["client_id"], True),
        ("How the service principal signs in", "", True),
        ("Client secret", info["client_secret"], True),
        ("Subscription to use", "", True),
        ("Region for new resources", "", True),
    ]

    with ModeWatcher(tmp_path, info["client_secret"]) as watcher:
        for prompt, answer, new_question in answers:
            terminal.answer(prompt, answer, new_question=new_question)
        status = terminal.finish()
    transcript = terminal.transcript.getvalue()
    # The secret typed at copier's prompt reaches its file through the fill task: private from the first byte.
    assert watcher.sightings and not watcher.exposed, watcher.exposed
    sp_file = project / "azureSecretSpConfig.json"
    assert json.loads(sp_file.read_text())["clientSecret"] == info["client_secret"]
    assert stat.S_IMODE(sp_file.stat().st_mode) == 0o600
    assert status == 0, transcript[-3000:]
    assert "Discovering the Stack" in transcript
    assert info["client_secret"] not in transcript
    assert json.loads((project / "stack.json").read_text())["profile"] == "2020_09_01_hybrid"
    assert json.loads((project / "azureSecretSpConfig.json").read_text())["subscriptionId"] == info["subscription_id"]
    # The samples question offers the catalog's samples by their titles, every one checked by default.
    from generator import catalog
    assert catalog.SAMPLES["blob_storage"].title[:40] in transcript
    assert all((project / "samples" / f"{name}.py").is_file() for name in catalog.SAMPLES)
    readme = (project / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| `samples/")]
    assert [row.split("`")[1] for row in rows] == [f"samples/{name}.py" for name in catalog.SAMPLES]
    assert f"service version `{catalog.profile('2020_09_01_hybrid').storage_data_api_version}`" in readme
    assert all(row.endswith("| Contributor |") for row in rows) and "{" not in "".join(rows)


@pytest.mark.reliability
def test_r115_native_copier_asks_a_wrong_secret_again_at_once(start_emulator, template_repo, tmp_path):
    """The sign-in is tried as soon as the secret is typed: a wrong one is refused there and asked again, and
    the answers before it are kept (not found out after every question, with all of them lost)."""
    info = start_emulator().info()
    project = tmp_path / "interactive"
    terminal = _copier_copy_in_a_terminal(template_repo, project)
    for prompt, answer in [("Name of the project", "team-retry"), ("Samples to generate", ""), ("CI definitions", ""),
                           ("Resource Manager endpoint", info["arm_endpoint"]), ("root CA in PEM format", info["ca_cert"]),
                           ("release", ""), ("Azure AD directory", ""), ("Application \\(client\\) id", info["client_id"]),
                           ("How the service principal signs in", ""), ("Client secret", "not-the-secret")]:
        terminal.answer(prompt, answer)
    # copier shows the validator's words under the prompt, and waits
    terminal.answer("Type it again", info["client_secret"], new_question=False)
    for prompt in ("Subscription to use", "Region for new resources"):
        terminal.answer(prompt, "")
    status = terminal.finish()
    transcript = terminal.transcript.getvalue()
    assert status == 0, transcript[-3000:]
    assert "not-the-secret" not in transcript and info["client_secret"] not in transcript
    assert json.loads((project / "stack.json").read_text())["profile"] == "2020_09_01_hybrid"


@pytest.mark.reliability
def test_r116_new_in_a_terminal_asks_for_the_stack_and_the_principal(start_emulator, template_repo, tmp_path):

    info = start_emulator().info()
    project = tmp_path / "asked"
    terminal = Terminal(sys.executable, ["-m", "generator", "new", str(project), "--template", str(template_repo),
                                         "--vcs-ref", "HEAD"])
    for prompt, answer in [("Resource Manager endpoint of the Stack", info["arm_endpoint"]),
                           ("root CA in PEM format", info["ca_cert"]), ("Application \\(client\\) id", info["client_id"]),
                           ("Certificate \\(PEM with its key\\)", ""), ("Client secret for", info["client_secret"])]:
        terminal.answer_line(prompt, answer)
    # copier's own questions, each asked once, and no more (the subscription and region are the discovered ones):
    # take what they offer.
    for prompt in ["Name of the project", "Samples to generate", "CI definitions"]:
        terminal.answer(prompt, "")
    status = terminal.finish()
    transcript = terminal.transcript.getvalue()
    assert status == 0, transcript[-3000:]
    assert info["client_secret"] not in transcript
    assert json.loads((project / "stack.json").read_text())["profile"] == "2020_09_01_hybrid"


# A step in the middle of each sample, and the path of its request: the fault lands there.
MIDDLE_STEP = {
    "virtual_machines": r"/virtualMachines/sample-vm$",
    "key_vault": r"/secrets/sample-secret$",
    "template_deployment": r"/deployments/sample-deployment$",
    "blob_storage": r"/samples/reports/2026/second\.txt$",
}
# How the refusal is said: Resource Manager's JSON, or the storage service's XML.
_REFUSAL = {"content_type": "application/json", "body": json.dumps(
    {"error": {"code": "InjectedFault", "message": "the emulator refused this step on purpose"}})}
_STORAGE_REFUSAL = {"content_type": "application/xml", "body": '<?xml version="1.0" encoding="utf-8"?><Error>'
                    "<Code>InjectedFault</Code><Message>the emulator refused this step on purpose</Message></Error>"}


@pytest.mark.reliability
@pytest.mark.parametrize("sample", list(MIDDLE_STEP))
def test_a_sample_runs_twice_and_cleans_up_when_a_step_fails(start_emulator, template_repo, project_env, tmp_path, sample):
    from azs_emulator import FaultPlan

    emulator = start_emulator()
    project = tmp_path / "project"
    new_project(emulator.info(), project, template_repo, samples=(sample,))
    assert bootstrap(project, project_env).returncode == 0
    assert run(project, project_env, venv_python(project), "register_providers.py").returncode == 0
    for _ in range(2):  # unique names and full clean-up: a second run right after the first works too
        result = run(project, project_env, venv_python(project), f"samples/{sample}.py")
        assert result.returncode == 0, result.stdout + result.stderr
        assert emulator.state.data["resource_groups"] == {}, result.stdout
        if sample == "blob_storage":  # its metadata, copy, lease and page blob steps ran (#40 item 4)
            assert "'owner': 'platform-team'" in result.stdout and "first-copy.txt: success" in result.stdout
            assert "refused (412 LeaseIdMissing)" in result.stdout and "pages written: 4096-4607" in result.stdout
    refusal = _STORAGE_REFUSAL if sample == "blob_storage" else _REFUSAL
    emulator.faults.set_plan(FaultPlan(replace=1, replace_status=400, path=MIDDLE_STEP[sample], replace_body=refusal["body"],
                                       replace_content_type=refusal["content_type"]))
    failed = run(project, project_env, venv_python(project), f"samples/{sample}.py")
    assert failed.returncode == 1
    assert failed.stderr.strip().startswith("error: ") and "InjectedFault" in failed.stderr and "\n" not in failed.stderr.strip()
    assert "Traceback" not in failed.stderr and "Cleaning up" in failed.stdout
    assert emulator.state.data["resource_groups"] == {}  # nothing the sample made outlives it
    assert not [r for r in emulator.state.data["resources"].values()]


def _base_python() -> str:
    """A Python with no uv beside it (the interpreter the tests' venv was made from)."""
    python = Path(sys.base_prefix) / "bin" / "python3"
    assert not python.with_name("uv").exists()
    return str(python)


def test_bootstrap_finds_the_uv_beside_azs_scaffold_as_pipx_installs_it(start_emulator, template_repo, project_env, tmp_path):
    """pipx puts only azs-scaffold's own command on PATH (a link into its venv, which holds uv): bootstrap run by
    another Python still installs with that uv."""
    info = start_emulator().info()
    project = tmp_path / "project"
    new_project(info, project, template_repo, samples=("resource_groups",))
    bin_folder = tmp_path / "local-bin"
    bin_folder.mkdir()
    (bin_folder / "azs-scaffold").symlink_to(Path(sys.executable).with_name("azs-scaffold"))
    env = {**project_env, "PATH": f"{bin_folder}{os.pathsep}/usr/bin{os.pathsep}/bin"}
    result = run(project, env, _base_python(), "scripts/bootstrap.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hashes checked) with uv" in result.stdout and "No uv here" not in result.stdout


def test_bootstrap_without_uv_says_how_to_get_it(template_repo, project_env, tmp_path, start_emulator):
    info = start_emulator().info()
    project = tmp_path / "project"
    new_project(info, project, template_repo, samples=("resource_groups",))
    env = {**{k: v for k, v in project_env.items() if k != "PIP_FIND_LINKS"}, "PATH": f"/usr/bin{os.pathsep}/bin",
           "PIP_CONFIG_FILE": os.devnull}  # no uv anywhere, and no index: pip fails at once
    result = run(project, env, _base_python(), "scripts/bootstrap.py")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "No uv here" in result.stdout and "pipx install uv" in result.stdout and "hashes checked) with pip" in result.stdout
