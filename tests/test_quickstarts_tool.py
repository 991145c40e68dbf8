"""tools/quickstarts/'s own parts, on small inputs written here (no corpus file, no emulator, no network): the
placeholders filled as a deployer fills them, the rules table, the report and the exit status of ``--classify``."""

from __future__ import annotations

import json
import subprocess
import sys

from tools.quickstarts import corpus
from tools.quickstarts.command import ROOT, main, report
from tools.quickstarts.rules import ADD_ON, DEPLOYED, EMULATOR, INTERNET, TEAM, UNCLASSIFIED, Rule, classify

MADE = corpus.Secrets(password="Qs-made-up-secret-1!", ssh_public_key="ssh-rsa AAAA made@up")


def _failure(folder, code, message):
    return {"folder": folder, "outcome": "failed", "code": code, "message": message}


def test_placeholders_are_filled_and_what_a_deployer_must_give_is_given():
    template = {"parameters": {"name": {"type": "string"}, "short": {"type": "string"}, "password": {"type": "securestring"},
                               "key": {"type": "string"}, "sshKeyData": {"type": "securestring"}, "asked": {"type": "securestring"},
                               "kept": {"type": "string"}, "defaulted": {"type": "securestring", "defaultValue": ""}}}
    given = {"name": {"value": "GEN-UNIQUE"}, "short": {"value": "GEN-UNIQUE-8"}, "password": {"value": "GEN-PASSWORD"},
             "key": {"value": "GEN-SSH-PUB-KEY"}, "sshKeyData": {"value": ""}, "kept": {"value": ""},
             "stray": {"value": "x"}}
    values, changes = corpus.parameter_values(template, given, MADE)
    assert len(values["short"]["value"]) == 8 and values["short"]["value"][0].isalpha()
    assert values["name"]["value"].isalnum() and values["name"]["value"].islower()
    assert values["password"] == values["asked"] == {"value": MADE.password}
    assert values["key"] == values["sshKeyData"] == {"value": MADE.ssh_public_key}
    assert values["kept"] == {"value": ""} and "defaulted" not in values and "stray" not in values
    assert changes == ["left out the undeclared parameter stray", "gave the secure parameter asked the password"]
    # a placeholder inside a longer value or an object is filled too
    assert corpus.fill({"a": ["pre-GEN-USER"]}, MADE) == {"a": [f"pre-{corpus.USER}"]}


def test_the_corpus_is_every_folder_with_a_template_and_its_parameters_file(tmp_path):
    (tmp_path / "101-one").mkdir()
    (tmp_path / "101-one" / "azuredeploy.json").write_text('{"parameters": {"p": {"type": "string"}}, "resources": []}')
    (tmp_path / "101-one" / "azuredeploy.parameters.json").write_text('\ufeff{"parameters": {"p": {"value": "GEN-USER"}}}')
    (tmp_path / "deep" / "inner").mkdir(parents=True)
    (tmp_path / "deep" / "inner" / "azuredeploy.json").write_text("{not json")
    (tmp_path / "parameters-only").mkdir()
    (tmp_path / "parameters-only" / "azuredeploy.parameters.json").write_text("{}")
    assert corpus.find_templates(tmp_path) == ["101-one", "deep/inner"]
    assert corpus.load(tmp_path, "101-one", MADE).parameters == {"p": {"value": corpus.USER}}
    assert corpus.load(tmp_path, "deep/inner", MADE).unreadable


def test_rules_match_by_folder_and_error_and_the_first_wins():
    rules = (Rule(TEAM, "an existing VM", folder="101-ext-.*", error="ParentResourceNotFound"),
             Rule(INTERNET, "a linked template", error=r"templateLink"),
             Rule(EMULATOR, "anything else of that folder", folder="101-ext-one"))
    assert classify(_failure("101-ext-one", "ParentResourceNotFound", "Parent resource 'vm' not found."), rules) == (TEAM, "an existing VM")
    assert classify(_failure("101-ext-one", "InvalidTemplate", "nested: templateLink"), rules)[0] == INTERNET
    assert classify(_failure("101-ext-one", "Conflict", "other"), rules)[0] == EMULATOR
    assert classify(_failure("201-other", "Conflict", "other"), rules) == (UNCLASSIFIED, "no rule explains it")
    assert classify({"folder": "201-other", "outcome": DEPLOYED}, rules) == (DEPLOYED, "")


def test_the_rules_table_sorts_what_a_stack_shares():
    assert classify(_failure("any", "NoRegisteredProviderFound", "No registered resource provider found for location "
                                                                 "'local' and namespace 'Microsoft.SQLAdapter'."))[0] == ADD_ON
    # a platform image 'None:None:None' is the emulator's failing to read a user image, never a marketplace item
    assert classify(_failure("any", "PlatformImageNotFound", "The platform image 'Canonical:X:Y:latest' is not available."))[0] == ADD_ON
    assert classify(_failure("any", "PlatformImageNotFound", "The platform image 'None:None:None:latest' is not available."))[0] == EMULATOR


def test_classify_reports_a_table_and_exits_non_zero_on_an_unexplained_failure(tmp_path, capsys):
    results = [{"folder": "a", "outcome": DEPLOYED, "seconds": 1.0},
               _failure("b", "InvalidTemplate",
                        "the nested deployment 'x' links its template (templateLink) from 'https://raw.githubusercontent.com/a': ...")]
    saved = tmp_path / "results.json"
    saved.write_text(json.dumps({"release": "2108", "results": results}))
    assert main(["--classify", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "| deployed | 1 |" in out and "| needs the internet | 1 |" in out and "| total | 2 |" in out
    assert "- `b`: a nested deployment links its template" in out
    results.append(_failure("c", "Conflict", f"the password {MADE.password} was refused"))
    saved.write_text(json.dumps({"release": "2108", "results": results}))
    assert main(["--classify", str(saved), "--results", str(tmp_path / "again.json")]) == 1
    assert "| unclassified | 1 |" in capsys.readouterr().out
    assert json.loads((tmp_path / "again.json").read_text())["results"][2]["category"] == UNCLASSIFIED


def test_a_secret_a_server_echoes_is_redacted_in_the_report():
    result = {**_failure("c", "Conflict", MADE.redact(f"the password {MADE.password} was refused")), "category": UNCLASSIFIED,
              "reason": "no rule explains it"}
    assert MADE.password not in report([result], "2108") and "***" in report([result], "2108")


def test_help_and_usage_errors_say_so_in_one_line(tmp_path):
    helped = subprocess.run([sys.executable, "-m", "tools.quickstarts", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "--release" in helped.stdout and "unclassified" in helped.stdout
    empty = subprocess.run([sys.executable, "-m", "tools.quickstarts", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert empty.returncode == 2 and "holds no azuredeploy.json" in empty.stderr and "Traceback" not in empty.stderr


def test_an_extension_template_brings_the_vm_it_extends(tmp_path):
    for folder in ("101-vm-linux-create", "101-vm-linux-apply-extension-docker"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "azuredeploy.json").write_text(json.dumps({"parameters": {}, "resources": [], "outputs": {"f": folder}}))
    extension = corpus.load(tmp_path, "101-vm-linux-apply-extension-docker", MADE)
    assert extension.first is not None and extension.first.template["outputs"] == {"f": "101-vm-linux-create"}
    assert extension.changes == ["deployed 101-vm-linux-create first, into the same group (the VM it extends)"]
    assert corpus.load(tmp_path, "101-vm-linux-create", MADE).first is None


def test_with_supplies_a_template_gets_the_teams_resources_and_values(tmp_path):
    from tools.quickstarts.deploy import with_supplies
    from tools.quickstarts.supplies import SUPPLIES, filled

    for folder in ("101-vmss-windows-vm", "ScaleInOutExistingVmss-managed", "101-create-nsg"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "azuredeploy.json").write_text('{"parameters": {}, "resources": []}')
    templates = [corpus.load(tmp_path, folder, MADE) for folder in ("ScaleInOutExistingVmss-managed", "101-create-nsg")]
    with_supplies(tmp_path, templates, MADE)
    scaled, untouched = templates
    assert scaled.supply is SUPPLIES["ScaleInOutExistingVmss-managed"] and untouched.supply is None and untouched.first is None
    assert scaled.first is not None and scaled.first.parameters == {"vmssName": {"value": "MyExistingVmss"}}
    assert scaled.changes == ["supplied the scale set (101-vmss-windows-vm's)"]
    assert filled({"id": ["/subscriptions/{subscription}/resourceGroups/{group}"], "n": 1}, "rg1", "s1") == {
        "id": ["/subscriptions/s1/resourceGroups/rg1"], "n": 1}


def test_the_tool_deploys_a_corpus_of_its_own_against_a_real_emulator_and_sorts_the_failures(tmp_path):
    """End to end on three templates written here: the emulator started by the tool (``azs-scaffold emulator``, TLS
    verified), the real SDK, the placeholders filled; one deploys, one links a template from GitHub (the internet),
    one fails as no rule explains (exit 1); those results without it classified again: exit 0."""
    schema = "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#"
    address = {"type": "Microsoft.Network/publicIPAddresses", "apiVersion": "2017-10-01", "location": "[resourceGroup().location]",
               "name": "[parameters('label')]", "properties": {"publicIPAllocationMethod": "Dynamic",
                                                                 "dnsSettings": {"domainNameLabel": "[parameters('label')]"}}}
    linked = {"type": "Microsoft.Resources/deployments", "apiVersion": "2018-09-01", "name": "linked", "properties": {
        "mode": "Incremental", "templateLink": {"uri": "https://raw.githubusercontent.com/example/t/master/nested.json"}}}
    odd = {"type": "Contoso.Widgets/widgets", "apiVersion": "2020-01-01", "location": "[resourceGroup().location]", "name": "odd"}
    corpus_dir = tmp_path / "corpus"
    for folder, resources, parameters in (("101-address", [address], {"label": {"type": "string"}}), ("201-linked", [linked], {}),
                                          ("301-odd", [odd], {})):
        (corpus_dir / folder).mkdir(parents=True)
        (corpus_dir / folder / "azuredeploy.json").write_text(json.dumps(
            {"$schema": schema, "contentVersion": "1.0.0.0", "parameters": parameters, "resources": resources}))
    (corpus_dir / "101-address" / "azuredeploy.parameters.json").write_text(json.dumps({"parameters": {"label": {"value": "GEN-UNIQUE"}}}))

    everything = subprocess.run([sys.executable, "-m", "tools.quickstarts", str(corpus_dir), "--jobs", "2", "--results",
                                 str(tmp_path / "results.json")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert everything.returncode == 1, everything.stderr
    assert "| deployed | 1 |" in everything.stdout and "| needs the internet | 1 |" in everything.stdout
    assert "| unclassified | 1 |" in everything.stdout and "`301-odd`: no rule explains it" in everything.stdout
    assert "[3/3]" in everything.stderr and "Traceback" not in everything.stderr
    saved = json.loads((tmp_path / "results.json").read_text())
    by_folder = {r["folder"]: r for r in saved["results"]}
    assert by_folder["101-address"]["outcome"] == DEPLOYED and by_folder["301-odd"]["code"] == "NoRegisteredProviderFound"
    saved["results"] = [r for r in saved["results"] if r["folder"] != "301-odd"]
    (tmp_path / "results.json").write_text(json.dumps(saved))
    assert main(["--classify", str(tmp_path / "results.json")]) == 0


def test_sigterm_stops_the_emulator_and_leaves_no_scratch_folder(tmp_path):
    """Terminated while it deploys, the tool stops the emulator it started and removes its scratch folder (which holds
    the emulator's secret): one line, exit 130."""
    import os
    import signal
    import time

    corpus_dir = tmp_path / "corpus"
    for index in range(40):
        (corpus_dir / f"101-n{index}").mkdir(parents=True)
        (corpus_dir / f"101-n{index}" / "azuredeploy.json").write_text(json.dumps({"resources": [
            {"type": "Microsoft.Network/networkSecurityGroups", "apiVersion": "2017-10-01", "name": "nsg", "location": "local"}]}))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    tool = subprocess.Popen([sys.executable, "-m", "tools.quickstarts", str(corpus_dir), "--jobs", "1"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "TMPDIR": str(scratch)})
    deadline = time.monotonic() + 120
    while not any((path / "info.json").exists() for path in scratch.glob("azs-quickstarts-*")):
        assert tool.poll() is None and time.monotonic() < deadline, tool.communicate()
        time.sleep(0.1)
    tool.send_signal(signal.SIGTERM)
    _, err = tool.communicate(timeout=120)
    assert tool.returncode == 130 and "interrupted" in err and "Traceback" not in err, err
    assert list(scratch.glob("azs-quickstarts-*")) == []
    from pathlib import Path

    def running() -> list[str]:  # processes whose command line names the scratch folder: the tool's emulator
        found = []
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                if str(scratch) in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(entry.name)
            except OSError:
                continue
        return found

    deadline = time.monotonic() + 30
    while running() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert running() == []
