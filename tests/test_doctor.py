"""azs-scaffold doctor: hand-written projects, one finding each, a sample-style project with several,
a generated project with none, and --fix whose output installs and clears the requirement findings."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from generator import catalog
from tests.helpers import GENERATOR_COMMAND, git, new_project

RESOURCE = catalog.PINS["azure-mgmt-resource"]


def _project(root: Path, requirements: str = "", code: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if requirements:
        (root / "requirements.txt").write_text(textwrap.dedent(requirements).lstrip())
    if code:
        (root / "app.py").write_text(textwrap.dedent(code).lstrip())
    return root


def _doctor(project: Path, *args: str) -> tuple[int, dict]:
    result = subprocess.run([*GENERATOR_COMMAND, "doctor", str(project), "--json", *args],
                            capture_output=True, text=True, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout) if result.stdout.strip() else {}


GOOD_CODE = """
    from azure.identity import ClientSecretCredential
    from azure.mgmt.resource import ResourceManagementClient
    from azure.profiles import KnownProfiles

    credential = ClientSecretCredential("adfs", "id", "secret", authority="https://adfs.local.azurestack.external",
                                        disable_instance_discovery=True)
    client = ResourceManagementClient(credential, "sub", base_url="https://management.local.azurestack.external",
                                      credential_scopes=["https://management.adfs.azurestack.local/x/.default"],
                                      profile=KnownProfiles.v2020_09_01_hybrid)
"""
GOOD_REQUIREMENTS = f"{RESOURCE.requirement}\nazure-common==1.1.28\nazure-identity==1.27.0\n"


@pytest.mark.parametrize(("requirements", "code", "where", "fragment"), [
    ("azure-mgmt-resource\nazure-common\n", GOOD_CODE, "requirements.txt:1", "is not pinned"),
    ("azure-mgmt-resource==25.0.0\nazure-common\n", GOOD_CODE, "requirements.txt:1", "newer than the last release"),
    ("azure-mgmt-resource==10.0.0\nazure-common\n", GOOD_CODE, "requirements.txt:1", "track 1 release"),
    (f"{RESOURCE.requirement}\n", GOOD_CODE, "app.py:3", "azure-common"),
    (GOOD_REQUIREMENTS + "msrestazure\n", GOOD_CODE, "requirements.txt:4", "msrestazure is retired"),
    (GOOD_REQUIREMENTS, GOOD_CODE.replace('local.azurestack.external",\n', 'local.azurestack.external/adfs",\n', 1), "app.py:5",
     "ends in /adfs"),
    (GOOD_REQUIREMENTS, GOOD_CODE.replace(",\n                                        disable_instance_discovery=True)", ")"), "app.py:5",
     "without disable_instance_discovery"),
    (GOOD_REQUIREMENTS, GOOD_CODE.replace('base_url="https://management.local.azurestack.external",\n', ""), "app.py:7",
     "without base_url"),
    (GOOD_REQUIREMENTS, GOOD_CODE.replace('credential_scopes=["https://management.adfs.azurestack.local/x/.default"],\n', ""),
     "app.py:7", "without credential_scopes"),
    (GOOD_REQUIREMENTS, GOOD_CODE.replace(",\n                                      profile=KnownProfiles.v2020_09_01_hybrid", ""), "app.py:7",
     "without profile="),
    (GOOD_REQUIREMENTS, "from msrestazure.azure_active_directory import AADTokenCredentials\n", "app.py:1", "retired"),
])
def test_each_problem_is_named_where_it_is_with_its_fix(tmp_path, requirements, code, where, fragment):
    code_, report = _doctor(_project(tmp_path / "p", requirements, code))
    assert code_ == 1
    matching = [f for f in report["findings"] if fragment in f["problem"]]
    assert matching and matching[0]["where"] == where and matching[0]["fix"], report


def test_a_clean_hand_written_project_has_no_findings(tmp_path):
    assert _doctor(_project(tmp_path / "p", GOOD_REQUIREMENTS, GOOD_CODE)) == (0, {"project": str(tmp_path / "p"), "findings": []})


SAMPLE_STYLE = """
    import os
    from azure.identity import ClientSecretCredential
    from azure.mgmt.resource import ResourceManagementClient
    from azure.profiles import KnownProfiles


    def get_credential(config):
        # written the way many adapted hybrid samples are: the ADFS authority with /adfs, no instance-discovery switch
        return ClientSecretCredential(config["tenantId"], config["clientId"], config["clientSecret"],
                                      authority=config["authority"] + "/adfs" if config.get("adfs") else config["authority"])


    def run(config):
        client = ResourceManagementClient(get_credential(config), config["subscriptionId"],
                                          profile=KnownProfiles.v2019_03_01_hybrid)
        for group in client.resource_groups.list():
            print(group.name)
"""


def test_a_sample_style_project_gets_each_of_its_problems(tmp_path, start_emulator):
    project = _project(tmp_path / "sample", "azure-mgmt-resource\nazure-identity\nmsrestazure\n", SAMPLE_STYLE)
    info = start_emulator(release="2108").info()
    code, report = _doctor(project, "--arm-endpoint", info["arm_endpoint"], "--root-ca", info["ca_cert"], "--release", "2108")
    problems = "\n".join(f"{f['where']} {f['problem']}" for f in report["findings"])
    assert code == 1
    for expected in ("requirements.txt:1 azure-mgmt-resource is not pinned", "msrestazure is retired",
                     "azure-common", "without disable_instance_discovery", "without base_url", "without credential_scopes",
                     "KnownProfiles.v2019_03_01_hybrid; the Stack at"):
        assert expected in problems, problems


@pytest.mark.reliability
def test_a_generated_project_has_no_findings(start_emulator, template_repo, tmp_path):
    info = start_emulator().info()
    project = tmp_path / "generated"
    new_project(info, project, template_repo, git=True)
    code, report = _doctor(project)
    assert (code, report["findings"]) == (0, [])
    # Day two: a merge (or an upgrade) leaves conflict markers in the lock, around its inputs' line or in its body
    # (before: "the lock is stale", or nothing at all). The fix relocks; then no finding again.
    lock = (project / "requirements.txt").read_text()
    inputs = next(line for line in lock.splitlines() if line.startswith("# Inputs: "))
    other = inputs.replace("constraints.txt sha256:", "constraints.txt sha256:0")[:len(inputs)]
    for conflicted in (lock.replace(inputs, f"<<<<<<< before updating\n{inputs}\n=======\n{other}\n>>>>>>> after updating"),
                       lock.replace("azure-common==", "<<<<<<< HEAD\n=======\nazure-common==", 1).rstrip("\n") + "\n>>>>>>> team\n"):
        (project / "requirements.txt").write_text(conflicted)
        line = conflicted.splitlines().index(next(x for x in conflicted.splitlines() if x.startswith("<<<<<<< "))) + 1
        code, report = _doctor(project)
        assert code == 1 and [(f["where"], f["problem"], f["fix"]) for f in report["findings"]] == [(
            f"requirements.txt:{line}", "the lock holds conflict markers (from a merge or an upgrade): bootstrap cannot install it",
            "take one side (git checkout HEAD -- requirements.txt), resolve requirements.in (the team's packages) if it "
            "has conflicts too, then relock: python scripts/lock.py (a lock is made again from its inputs, never merged)")], report
    git(project, "checkout", "HEAD", "--", "requirements.txt")  # the fix, as it says
    relocked = subprocess.run([sys.executable, "scripts/lock.py"], cwd=project, capture_output=True, text=True, timeout=120)
    assert relocked.returncode == 0, relocked.stderr
    code, report = _doctor(project)
    assert (code, report["findings"]) == (0, []), report


@pytest.mark.slow  # bootstraps a project: installs packages
def test_fix_writes_pins_that_install_and_clear_the_requirement_findings(tmp_path, project_env):
    project = _project(tmp_path / "p", "azure-mgmt-resource\nazure-identity\n", GOOD_CODE)
    result = subprocess.run([*GENERATOR_COMMAND, "doctor", str(project), "--fix"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 1 and "+azure-mgmt-resource==" in result.stdout and "Wrote" in result.stdout, result.stdout
    assert (project / "app.py").read_text() == textwrap.dedent(GOOD_CODE).lstrip()  # code never edited
    install = subprocess.run([sys.executable, "-m", "venv", str(project / ".venv")], capture_output=True)
    assert install.returncode == 0
    pip = subprocess.run([str(project / ".venv/bin/python"), "-m", "pip", "install", "-q", "-r", "requirements.txt"], cwd=project,
                         env=project_env, capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr
    assert _doctor(project) == (0, {"project": str(project), "findings": []})


def test_a_project_that_is_not_a_folder_could_not_be_examined(tmp_path):
    result = subprocess.run([*GENERATOR_COMMAND, "doctor", str(tmp_path / "missing")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and "is not a directory" in result.stderr and "Traceback" not in result.stderr


# -- round 3 (issue 23): a doctor that is right, on what teams adapt ----------------------------------------

HYBRID_SAMPLES = Path(__file__).parent / "fixtures" / "hybrid_samples"


def _hybrid_samples(tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(HYBRID_SAMPLES, tmp_path / "samples"))


def _run(*args: str, **options) -> subprocess.CompletedProcess:
    result = subprocess.run([*GENERATOR_COMMAND, "doctor", *args], capture_output=True, text=True,
                            timeout=300, **options)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def _third_party_imports(project: Path) -> set[str]:
    """Every module the project's code imports that is neither the standard library's nor the project's own."""
    import ast

    local = {p.stem for p in project.rglob("*.py")}
    modules = set()
    for path in project.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            modules.update(n for n in names if n.split(".")[0] not in sys.stdlib_module_names | local)
    return modules


@pytest.mark.reliability
def test_r120_fix_never_writes_through_a_link_outside_the_project(tmp_path):
    outside = tmp_path / "elsewhere" / "requirements.txt"
    outside.parent.mkdir()
    outside.write_text("keep-me==1.0\n")
    project = _project(tmp_path / "p", code=GOOD_CODE)
    (project / "requirements.txt").symlink_to(outside)
    result = _run(str(project), "--fix")
    error_lines = [line for line in result.stderr.splitlines() if not line.startswith("  ")]
    assert result.returncode == 2 and len(error_lines) == 1, result.stderr
    assert "links to" in error_lines[0] and "outside the project" in error_lines[0] and "Wrote" not in result.stdout
    assert outside.read_text() == "keep-me==1.0\n" and (project / "requirements.txt").is_symlink()
    # a link that dangles outside is refused the same (writing would create the file out there)
    outside.unlink()
    assert _run(str(project), "--fix").returncode == 2 and not outside.exists()
    # inside the project a link is written through, in one rename, and stays a link
    (project / "requirements.txt").unlink()
    (project / "deps").mkdir()
    (project / "deps" / "pins.txt").write_text("azure-mgmt-resource\n")
    (project / "requirements.txt").symlink_to(project / "deps" / "pins.txt")
    result = _run(str(project), "--fix")
    assert result.returncode == 1 and "Wrote" in result.stdout, result.stderr
    assert (project / "requirements.txt").is_symlink() and RESOURCE.requirement in (project / "deps" / "pins.txt").read_text()


@pytest.mark.reliability
def test_r122_fix_keeps_every_import_of_the_hybrid_samples_satisfiable(tmp_path):
    project = _hybrid_samples(tmp_path)
    code_before = {p: p.read_text() for p in project.rglob("*.py")}
    result = _run(str(project), "--fix")
    assert result.returncode == 1 and "Wrote" in result.stdout, result.stderr
    written = (project / "requirements.txt").read_text().splitlines()
    for kept in ("msrestazure", "haikunator", "azure-keyvault", "python-certifi-win32"):
        assert kept in written, written  # declared, no pin known: kept as written
    for package in ("azure-mgmt-resource", "azure-mgmt-compute", "azure-mgmt-network", "azure-mgmt-storage",
                    "azure-mgmt-keyvault", "azure-keyvault-secrets", "azure-common", "azure-identity"):
        assert catalog.PINS[package].requirement in written, written
    assert {p: p.read_text() for p in project.rglob("*.py")} == code_before  # code never edited
    assert "msrestazure is retired; the code still imports it" in _run(str(project)).stdout  # the finding stays


@pytest.mark.slow
@pytest.mark.reliability
def test_r122_what_fix_writes_installs_and_every_sample_imports(tmp_path, uv_cache):
    from tests.helpers import without_emulator_proxy

    project = _hybrid_samples(tmp_path)
    assert _run(str(project), "--fix").returncode == 1
    uv = Path(sys.executable).with_name("uv")
    env = {**without_emulator_proxy(), "UV_CACHE_DIR": str(uv_cache)}
    venv = tmp_path / "venv"
    subprocess.run([str(uv), "venv", "-q", "--python", sys.executable, str(venv)], check=True, env=env, timeout=120)
    install = subprocess.run([str(uv), "pip", "install", "-q", "--python", str(venv / "bin/python"), "-r",
                              str(project / "requirements.txt")], capture_output=True, text=True, env=env, timeout=900)
    assert install.returncode == 0, install.stderr
    modules = sorted(_third_party_imports(project))
    assert {"haikunator", "msrestazure.azure_cloud", "azure.keyvault.secrets"} <= set(modules), modules
    imported = subprocess.run([str(venv / "bin/python"), "-c", "import importlib, sys\nfor m in sys.argv[1:]: "
                               "importlib.import_module(m)", *modules], capture_output=True, text=True, timeout=300)
    assert imported.returncode == 0, imported.stderr


@pytest.mark.reliability
def test_r123_a_default_profile_set_before_the_client_is_no_false_alarm(tmp_path):
    project = _hybrid_samples(tmp_path)
    code, report = _doctor(project)
    assert not [f for f in report["findings"] if "without profile=" in f["problem"]], report
    # without it, the same client is flagged
    (example := project / "resourcemanager" / "example.py").write_text(example.read_text().replace(
        "    KnownProfiles.default.use(KnownProfiles.v2020_09_01_hybrid)\n", ""))
    code, report = _doctor(project)
    assert [f["where"] for f in report["findings"] if "without profile=" in f["problem"]] == ["resourcemanager/example.py:15"]
    # set in the same file only after the client is built, it does not count
    late = _project(tmp_path / "late", GOOD_REQUIREMENTS, GOOD_CODE.replace(
        ",\n                                      profile=KnownProfiles.v2020_09_01_hybrid", "") +
        "    KnownProfiles.default.use(KnownProfiles.v2020_09_01_hybrid)\n")
    code, report = _doctor(late)
    assert [f["where"] for f in report["findings"] if "without profile=" in f["problem"]] == ["app.py:7"], report
    # set in another file (a start-up module), it is in force once that has run
    (late / "main.py").write_text("from azure.profiles import KnownProfiles\nKnownProfiles.default.use(KnownProfiles.v2020_09_01_hybrid)\n")
    assert _doctor(late) == (0, {"project": str(late), "findings": []})


@pytest.mark.reliability
def test_r124_a_data_plane_client_without_api_version(tmp_path):
    project = _project(tmp_path / "p", GOOD_REQUIREMENTS + "azure-keyvault-secrets==4.12.0\nazure-storage-blob==12.3.1\nsix\n", """
        from azure.keyvault.secrets import SecretClient
        from azure.storage.blob import BlobServiceClient
        secrets = SecretClient(vault_url="https://kv1.vault.local.azurestack.external", credential=None)
        blobs = BlobServiceClient.from_connection_string("DefaultEndpointsProtocol=https;AccountName=a")
        good = SecretClient("https://kv1.vault.local.azurestack.external", None, api_version="2016-10-01")
    """)
    code, report = _doctor(project)
    found = {f["where"]: f for f in report["findings"]}
    assert code == 1 and set(found) == {"app.py:3", "app.py:4"}, report
    assert "SecretClient without api_version" in found["app.py:3"]["problem"] and '"2016-10-01"' in found["app.py:3"]["fix"]
    assert "BlobServiceClient without api_version" in found["app.py:4"]["problem"]
    assert f'"{catalog.STORAGE_DATA_API_VERSION}"' in found["app.py:4"]["fix"]


@pytest.mark.reliability
def test_r125_an_authority_from_the_metadata_passed_with_a_tenant(tmp_path):
    code_text = GOOD_CODE.replace('authority="https://adfs.local.azurestack.external"', "authority=cloud.endpoints.active_directory")
    code, report = _doctor(_project(tmp_path / "p", GOOD_REQUIREMENTS, code_text))
    matching = [f for f in report["findings"] if "from the metadata's login endpoint" in f["problem"]]
    assert code == 1 and [f["where"] for f in matching] == ["app.py:5"], report
    assert "/adfs/adfs" in matching[0]["problem"] and "tenant 'adfs'" in matching[0]["fix"]
    # the metadata read by hand (its loginEndpoint key) is the same case
    by_hand = code_text.replace("cloud.endpoints.active_directory", 'metadata["authentication"]["loginEndpoint"]')
    code, report = _doctor(_project(tmp_path / "q", GOOD_REQUIREMENTS, by_hand))
    assert [f["where"] for f in report["findings"] if "from the metadata's login endpoint" in f["problem"]] == ["app.py:5"]


@pytest.mark.reliability
def test_r126_python_certifi_win32_is_retired(tmp_path):
    code, report = _doctor(_project(tmp_path / "p", GOOD_REQUIREMENTS + "python-certifi-win32\n",
                                    GOOD_CODE + "    import certifi_win32\n"))
    problems = {f["where"]: f["problem"] for f in report["findings"]}
    assert code == 1 and "python-certifi-win32 is retired" in problems["requirements.txt:4"], report
    assert [w for w, problem in problems.items() if problem == "imports certifi_win32, which is retired"] == ["app.py:10"], report


@pytest.mark.reliability
def test_r127_a_finding_in_many_files_names_each_file(tmp_path):
    code, report = _doctor(_hybrid_samples(tmp_path))
    files = sorted(f["where"].split(":")[0] for f in report["findings"] if f["problem"].startswith("imports msrestazure"))
    assert files == ["TemplateDeployment/deployer.py", "keyvault/example.py", "resourcemanager/example.py",
                     "storage/example.py", "vm/example.py"], report
    (requirement,) = [f for f in report["findings"] if f["where"] == "requirements.txt:7"]
    assert all(name in requirement["problem"] for name in files)  # and the requirement lists them all


@pytest.mark.reliability
def test_r128_a_folder_with_nothing_to_diagnose(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "README.md").write_text("nothing here\n")
    for folder in ("empty", "notes"):
        result = _run(str(tmp_path / folder))
        assert result.returncode == 2 and "nothing to diagnose" in result.stderr and not result.stdout, result


@pytest.mark.reliability
def test_r129_arm_endpoint_without_credentials_cannot_check_the_profile(tmp_path, start_emulator):
    info = start_emulator(release="2108").info()
    project = _project(tmp_path / "p", GOOD_REQUIREMENTS, GOOD_CODE)
    result = _run(str(project), "--arm-endpoint", info["arm_endpoint"], "--root-ca", info["ca_cert"])
    error_lines = [line for line in result.stderr.splitlines() if not line.startswith("  ")]
    assert result.returncode == 2 and len(error_lines) == 1, result.stderr
    line = error_lines[0]
    assert "profile of the Stack at https://management." in line and "could not be told" in line
    assert "--release" in line and "--client-id" in line
    # --release is enough to check the profile
    result = _run(str(project), "--arm-endpoint", info["arm_endpoint"], "--root-ca", info["ca_cert"], "--release", "2108")
    assert result.returncode == 0, result.stderr


@pytest.mark.reliability
def test_r130_pyproject_is_read_without_tomllib_as_on_python_3_10(tmp_path):
    import tomllib
    from packaging.requirements import Requirement

    declared = [Requirement(r) for r in tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["dependencies"]]
    (tomli,) = [r for r in declared if r.name == "tomli"]
    assert tomli.marker.evaluate({"python_version": "3.10"}) and not tomli.marker.evaluate({"python_version": "3.11"})
    project = _project(tmp_path / "p", code=GOOD_CODE)
    (project / "pyproject.toml").write_text('[project]\nname = "p"\ndependencies = ["azure-mgmt-resource", "azure-common"]\n')
    without_tomllib = ("import runpy, sys\nsys.modules['tomllib'] = None\n"
                       "sys.argv = ['azs-scaffold', 'doctor', sys.argv[1], '--json']\nrunpy.run_module('generator', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", without_tomllib, str(project)], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    assert [f["where"] for f in report["findings"] if "is not pinned" in f["problem"]] == ["pyproject.toml [project.dependencies]"]
