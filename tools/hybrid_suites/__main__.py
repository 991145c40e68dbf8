"""``python -m tools.hybrid_suites run|classify``: see the package's docstring and each action's --help."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tools.hybrid_suites import CONFIGURATIONS, MODULES


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m tools.hybrid_suites",
        description="Azure CLI's own hybrid-profile scenario tests (azure-cli's command_modules/*/tests/hybrid_*) run live "
                    "against the emulator, and every failure classified by the rules table (tools/hybrid_suites/rules.py).")
    actions = top.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="run the suites against a fresh emulator per configuration, writing junit XML",
                             description="Install az 2.66.0 and the checkout's azure-cli-testsdk in a throw-away venv, start "
                                         "the emulator, sign in as a Stack user, run the modules' hybrid test folders.")
    run.add_argument("checkout", type=Path, help="an azure-cli source checkout with hybrid test folders (tag azure-cli-2.66.0 "
                                                 "or the nearest before it)")
    run.add_argument("--output", type=Path, default=Path("hybrid-suites"), help="where OUTPUT/<configuration>/<module>.xml "
                                                                                 "and .log go (default: ./hybrid-suites)")
    run.add_argument("--config", dest="configurations", action="append", choices=sorted(CONFIGURATIONS),
                     help="repeatable (default: all three)")
    run.add_argument("--module", dest="modules", action="append", choices=MODULES, help="repeatable (default: all, in the "
                                                                                         "order storage, network, resource, keyvault, vm)")
    run.add_argument("--test-timeout", type=int, default=600, help="seconds one test may take (default: 600)")
    run.add_argument("--venv", type=Path, help="keep az's venv here and reuse it across runs (default: a throw-away one)")
    run.add_argument("--keep", action="store_true", help="keep the work folder (emulator state, staged tests, az config)")
    run.add_argument("-k", dest="keyword", help="pytest's -k: only tests matching")
    classify = actions.add_parser("classify", help="classify the failures of junit XML files; print the markdown report",
                                  description="Read junit XML files written by 'run' (suite name <configuration>/<module>), "
                                              "put every failure in a category by the rules table, print the table and the "
                                              "failures per category. Exit 1 when a failure matches no rule.")
    classify.add_argument("paths", nargs="+", type=Path, help="junit XML files, or folders searched for *.xml")
    classify.add_argument("--write-docs", type=Path, metavar="MARKDOWN",
                          help="also replace the generated block (between the hybrid-suites markers) of this file")
    classify.add_argument("--header", default="", help="a line printed above the report (date, az version, command)")
    return top


def main(argv: list[str] | None = None) -> int:
    options = parser().parse_args(argv)
    if options.action == "run":
        import signal

        from tools.hybrid_suites.run import RunError, RunOptions, run

        def _stop(signum: int, frame: object) -> None:
            raise KeyboardInterrupt  # SIGTERM as Ctrl-C: the emulator stopped, the work folder (its secrets) removed

        signal.signal(signal.SIGTERM, _stop)

        try:
            return run(RunOptions(
                checkout=options.checkout, output=options.output.resolve(),
                configurations=tuple(options.configurations or CONFIGURATIONS), modules=tuple(options.modules or MODULES),
                test_timeout=options.test_timeout, venv=options.venv.resolve() if options.venv else None, keep=options.keep,
                pytest_args=("-k", options.keyword) if options.keyword else ()))
        except RunError as error:
            print(f"hybrid-suites: {error}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("hybrid-suites: interrupted; the emulator was stopped and the work folder removed", file=sys.stderr)
            return 130
    from tools.hybrid_suites.classify import ClassifyError, classify_main

    try:
        return classify_main(options.paths, options.write_docs, options.header)
    except ClassifyError as error:
        print(f"hybrid-suites: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the report piped into `head`, which stopped reading: not a failure of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error as Python flushes stdout
        return 0


if __name__ == "__main__":
    sys.exit(main())
