"""Copied by ``python -m tools.hybrid_suites run`` as the staging folder's conftest.py (azs-scaffold's, not Azure
CLI's): the testsdk's preparers create in the Stack's region (AZS_HYBRID_REGION) when a test names no location
itself. Their default is a public region (westus), which no Stack has; a test that names a public region keeps it
and fails as it would on a real Stack (the classifier's "public region" rules)."""

import inspect
import os
import re

from azure.cli.testsdk import preparers

REGION = os.environ["AZS_HYBRID_REGION"]


def _in_the_stacks_region(cls):
    original = cls.__init__
    signature = inspect.signature(original)

    def __init__(self, *args, **kwargs):
        bound = signature.bind_partial(self, *args, **kwargs)
        if "location" not in bound.arguments:
            kwargs["location"] = REGION
        original(self, *args, **kwargs)

    cls.__init__ = __init__


for _name, _cls in inspect.getmembers(preparers, inspect.isclass):
    if _cls.__module__ == preparers.__name__ and "location" in inspect.signature(_cls.__init__).parameters:
        _in_the_stacks_region(_cls)


def pytest_sessionstart(session):
    """The versions under test, recorded in the junit XML's suite properties (what ``classify`` prints)."""
    import azure.cli.core
    import azure.cli.testsdk
    from _pytest.junitxml import xml_key

    xml = session.config.stash.get(xml_key, None)
    if xml is not None:
        xml.add_global_property("azure_cli", azure.cli.core.__version__)
        xml.add_global_property("testsdk", os.path.dirname(azure.cli.testsdk.__file__))
        xml.add_global_property("region", REGION)


# Tests that upload a file of this size or more are skipped (the 1G, 2G and 10G uploads: tens of GiB on disk and
# minutes of CPU a shared machine has not got); AZS_HYBRID_MAX_UPLOAD_MIB raises the limit.
MAX_UPLOAD_MIB = int(os.environ.get("AZS_HYBRID_MAX_UPLOAD_MIB", "256"))
_SIZE = re.compile(r"upload_(\d+)(mb|G)_file", re.IGNORECASE)


def pytest_collection_modifyitems(config, items):
    import pytest

    for item in items:
        size = _SIZE.search(item.name)
        if size and int(size.group(1)) * (1024 if size.group(2).upper() == "G" else 1) > MAX_UPLOAD_MIB:
            item.add_marker(pytest.mark.skip(reason=f"uploads more than {MAX_UPLOAD_MIB} MiB (AZS_HYBRID_MAX_UPLOAD_MIB)"))


def pytest_runtest_logreport(report):
    """Each failure's last lines as it happens, in AZS_HYBRID_PROGRESS (junit XML is written only at the end)."""
    progress = os.environ.get("AZS_HYBRID_PROGRESS")
    if progress and report.failed:
        tail = " | ".join(str(report.longrepr).strip().splitlines()[-4:])
        with open(progress, "a", encoding="utf-8") as out:
            out.write(f"{report.nodeid} [{report.when}] {tail[:600]}\n")
