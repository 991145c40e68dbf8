"""``classify``: every failure of the hybrid suites' junit XML put in a category by the rules table.

Reads the files ``run`` writes (a ``<testsuite name="<configuration>/<module>">`` each), counts passed / failed /
skipped per module and configuration, matches each failure (a ``<failure>`` or ``<error>``: a failed setup counts)
against ``rules.RULES`` in order, and prints markdown: the table, then each category with its description and its
failures, each with the reason its rule gives. A failure no rule matches is listed as "unclassified" and the exit
status is 1: nothing goes unaccounted.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from tools.hybrid_suites import CONFIGURATIONS, MODULES
from tools.hybrid_suites.rules import CATEGORIES, RULES, UNCLASSIFIED, Rule

BEGIN, END = "<!-- hybrid-suites:begin -->", "<!-- hybrid-suites:end -->"
MAX_XML_BYTES = 64 * 1024 * 1024


class ClassifyError(Exception):
    """A junit file that cannot be read as ``run`` writes them: one line."""


@dataclass(frozen=True)
class Outcome:
    """One test of one run: its id (``module::file::Class::test``), how it ended, and the failure's text."""

    configuration: str
    module: str
    test: str
    status: str  # passed | failed | skipped
    message: str = ""


@dataclass
class Report:
    outcomes: list[Outcome]
    properties: dict[str, str]
    timestamps: list[str]


def _test_id(module: str, classname: str, name: str) -> str:
    """``azcli_storage.hybrid_2020_09_01.test_x.Class`` + ``test_y`` -> ``storage::test_x::Class::test_y``: the
    staging package and the profile folder dropped, so that one rule covers both profiles."""
    parts = classname.split(".")
    if parts and parts[0] == f"azcli_{module}":
        parts = parts[1:]
    if parts and parts[0].startswith("hybrid_"):
        parts = parts[1:]
    return "::".join([module, *parts, name])


def read_junit(path: Path) -> Report:
    if not path.is_file() or path.stat().st_size > MAX_XML_BYTES:
        raise ClassifyError(f"{path} is not a junit XML file of at most {MAX_XML_BYTES // 2**20} MiB")
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        raise ClassifyError(f"{path} is not XML ({error}): give the files 'run' wrote") from None
    outcomes: list[Outcome] = []
    properties: dict[str, str] = {}
    timestamps: list[str] = []
    for suite in root.iter("testsuite"):
        configuration, _, module = (suite.get("name") or "").partition("/")
        if configuration not in CONFIGURATIONS or module not in MODULES:
            raise ClassifyError(f"{path}: suite {suite.get('name')!r} is not <configuration>/<module> "
                                f"(configurations {', '.join(CONFIGURATIONS)}; modules {', '.join(MODULES)})")
        if suite.get("timestamp"):
            timestamps.append(suite.get("timestamp", ""))
        for prop in suite.iter("property"):
            properties[prop.get("name", "")] = prop.get("value", "")
        for case in suite.iter("testcase"):
            test = _test_id(module, case.get("classname", ""), case.get("name", ""))
            bad = [child for child in case if child.tag in ("failure", "error")]
            if bad:
                message = "\n".join(f"{child.get('message', '')}\n{child.text or ''}" for child in bad)
                outcomes.append(Outcome(configuration, module, test, "failed", message))
            elif case.find("skipped") is not None:
                outcomes.append(Outcome(configuration, module, test, "skipped"))
            else:
                outcomes.append(Outcome(configuration, module, test, "passed"))
    return Report(outcomes, properties, timestamps)


def junit_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(p for p in path.rglob("*.xml") if p.is_file()) if path.is_dir() else [path])
    if not files:
        raise ClassifyError(f"no junit XML files in {', '.join(map(str, paths))}")
    return files


def classify(outcome: Outcome, rules: tuple[Rule, ...] = RULES) -> Rule | None:
    """The first rule matching the failure, None when none does."""
    for rule in rules:
        if rule.matches(outcome.test, outcome.message, outcome.configuration):
            return rule
    return None


def _configuration_order(name: str) -> int:
    return list(CONFIGURATIONS).index(name)


def render(outcomes: list[Outcome], rules: tuple[Rule, ...] = RULES) -> tuple[str, int]:
    """The markdown report and the number of unclassified failures."""
    categories = [*CATEGORIES, UNCLASSIFIED]
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    failures: dict[str, dict[tuple[str, str], list[str]]] = defaultdict(lambda: defaultdict(list))
    for outcome in outcomes:
        row = counts[(outcome.module, outcome.configuration)]
        row[outcome.status] += 1
        if outcome.status == "failed":
            rule = classify(outcome, rules)
            key = rule.category if rule else UNCLASSIFIED.key
            row[key] += 1
            reason = rule.describe(outcome.message) if rule else _first_line(outcome.message)
            failures[key][(outcome.test, reason)].append(outcome.configuration)
    used = [c for c in categories if failures.get(c.key)]
    lines = ["| module | configuration | passed | failed | skipped | " + " | ".join(c.title for c in used) + " |",
             "|---|---|---|---|---|" + "---|" * len(used)]
    for module, configuration in sorted(counts, key=lambda k: (MODULES.index(k[0]), _configuration_order(k[1]))):
        row = counts[(module, configuration)]
        lines.append(f"| {module} | {configuration} | {row['passed']} | {row['failed']} | {row['skipped']} | "
                     + " | ".join(str(row[c.key]) for c in used) + " |")
    for category in used:
        lines += ["", f"#### {category.title}", "", category.description, ""]
        for (test, reason), configurations in sorted(failures[category.key].items()):
            which = ", ".join(sorted(set(configurations), key=_configuration_order))
            lines.append(f"- `{test}` ({which}): {reason}")
    return "\n".join(lines) + "\n", sum(len(v) for v in failures[UNCLASSIFIED.key].values())


def _first_line(message: str) -> str:
    text = " ".join(line.strip() for line in message.splitlines() if line.strip())
    return (text[:200] + "...") if len(text) > 200 else text


def header(reports: list[Report]) -> str:
    """Where the numbers come from: the run's date, az and testsdk, as the junit files recorded them."""
    properties: dict[str, str] = {}
    for report in reports:
        properties.update(report.properties)
    dates = sorted(t[:10] for report in reports for t in report.timestamps)
    date = dates[-1] if dates else "an unknown date"
    return f"Measured on {date} with az {properties.get('azure_cli', '(version not recorded)')}."


def write_docs(markdown: Path, block: str) -> None:
    text = markdown.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ClassifyError(f"{markdown} has no {BEGIN} ... {END} block to replace")
    new = text[: start + len(BEGIN)] + "\n" + block + text[end:]
    temporary = markdown.with_name(markdown.name + ".tmp")
    temporary.write_text(new, encoding="utf-8")
    temporary.replace(markdown)  # whole or not at all


def classify_main(paths: list[Path], docs: Path | None, extra_header: str) -> int:
    reports = [read_junit(path) for path in junit_files(paths)]
    body, unclassified = render([outcome for report in reports for outcome in report.outcomes])
    block = "\n".join(line for line in (header(reports), extra_header) if line) + "\n\n" + body
    print(block, end="")
    if docs is not None:
        write_docs(docs, block)
    if unclassified:
        print(f"\n{unclassified} failure(s) match no rule: add a rule to tools/hybrid_suites/rules.py naming the evidence")
        return 1
    return 0
