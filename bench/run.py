"""Benchmarks of azs-scaffold against its baselines, side by side in one run; prints a markdown table.

    .venv/bin/python bench/run.py [--repeat 5] [--batch-size 20] [--venvs]
    .venv/bin/python bench/run.py --store [--store-from CHECKOUT] [--groups 10000]   (bench/emulator_store.py)

Each pair is measured alternately (A, B, A, B, ...) so that a noisy, shared machine slows both
alike; the table shows medians and their ratio. Everything runs against the built-in emulator on
loopback, with azs-scaffold as users install it: a wheel built from this checkout's HEAD, installed
into a fresh venv (with copier, the baseline, beside it; its template is the bundle the wheel carries).
``--venvs`` also installs the generated projects' pins and the official samples' unpinned
requirement set from the package index, and measures install time and size above an empty venv.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET_ENV = "AZS_BENCH_SECRET"
# The official Hybrid-Python-Samples requirement set, unpinned, as they install today.
OFFICIAL_UNPINNED = ["azure-mgmt-resource", "azure-mgmt-compute", "azure-mgmt-network", "azure-mgmt-storage",
                     "azure-mgmt-keyvault", "azure-identity"]


def sh(command: list[str], cwd: Path | None = None, env: dict | None = None, replace_env: bool = False,
       expect: str = "") -> None:
    """Run ``command``; stop the bench when it fails, or when its output lacks ``expect``."""
    result = subprocess.run(command, cwd=cwd, env=env if replace_env else {**os.environ, **(env or {})}, capture_output=True,
                            text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0 or expect not in result.stdout:
        raise SystemExit(f"bench: {' '.join(command[:4])} ... failed:\n{result.stdout[-1000:]}{result.stderr[-2000:]}")


def timed(action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def side_by_side(repeat: int, a: Callable[[int], Callable[[], None]], b: Callable[[int], Callable[[], None]]) -> tuple[float, float]:
    """Medians of ``repeat`` alternating runs; ``a(i)``/``b(i)`` prepare run i and return the timed action."""
    times_a, times_b = [], []
    for i in range(repeat):
        times_a.append(timed(a(i)))
        times_b.append(timed(b(i)))
    return statistics.median(times_a), statistics.median(times_b)


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--venvs", action="store_true", help="also measure venv installs (needs the package index)")
    parser.add_argument("--first-sample", action="store_true",
                        help="also measure new + bootstrap + registration + first sample, uv and pip (needs the package index)")
    parser.add_argument("--store", action="store_true",
                        help="only the emulator's store: writes/s and resident memory as resource groups pile up")
    parser.add_argument("--store-from", type=Path, default=ROOT, help="the checkout whose emulator --store measures")
    parser.add_argument("--groups", type=int, default=10_000, help="how many resource groups --store creates")
    args = parser.parse_args()
    if args.store:
        from bench.emulator_store import store_table

        print(store_table(args.store_from.resolve(), args.groups))
        return

    from azs_emulator import Emulator, EmulatorConfig
    from generator.discovery import DiscoveryRequest, ServicePrincipal, discover_stack
    from generator.operations.render import NewProject, copier_data

    work = Path(tempfile.mkdtemp(prefix="azs-bench-"))
    AZS, COPIER, template = install_wheel(work)
    from generator.templating.template_source import public_url_served_from

    rows: list[tuple[str, float, str, float, str]] = []
    # One listener for sign-in and Resource Manager: the timings do not depend on the topology, and the
    # generated projects then need no stand-in for a public CA in their venvs.
    with Emulator(EmulatorConfig(registration_delay=0.1, layout="loopback", single_host=True)) as emulator:
        info = emulator.info()
        env = {SECRET_ENV: info["client_secret"]}
        stack = ["--arm-endpoint", info["arm_endpoint"], "--root-ca", info["ca_cert"], "--client-id", info["client_id"],
                 "--client-secret-env", SECRET_ENV]
        common = ["--non-interactive", "--vcs-ref", "HEAD"]

        # 1. generation: azs-scaffold new vs copier copy with the same answers precomputed
        request = DiscoveryRequest(info["arm_endpoint"], root_ca=info["root_ca"],
                                   principal=ServicePrincipal(info["client_id"], client_secret=info["client_secret"]))
        found = discover_stack(request)
        data = copier_data(NewProject(str(work / "unused"), request), found)
        data_file = work / "answers.yml"
        import yaml

        data_file.write_text(yaml.safe_dump(data))
        data_file.chmod(0o600)
        new, bare = side_by_side(
            args.repeat,
            lambda i: lambda: sh([*AZS, "new", str(work / f"new-{i}"), *stack, *common], env=env),
            lambda i: lambda: sh([*COPIER, "copy", "--trust", "--defaults", "--quiet", "--vcs-ref", "HEAD", "--data-file",
                                  str(data_file), template, str(work / f"bare-{i}")]),
        )
        rows.append(("`azs-scaffold new` vs bare `copier copy` (answers precomputed)", new, "", bare, "<= 1.0x"))

        # 2. startup
        helped, copier_help = side_by_side(args.repeat, lambda i: lambda: sh([*AZS, "--help"]), lambda i: lambda: sh([*COPIER, "--help"]))
        rows.append(("`azs-scaffold --help` vs `copier --help`", helped, "", copier_help, "<= 0.1x"))

        # 3. batch of N teams vs N separate runs
        import json

        teams = {"defaults": {"arm_endpoint": info["arm_endpoint"], "ca_cert": info["ca_cert"], "client_id": info["client_id"],
                              "client_secret_env": SECRET_ENV},
                 "teams": [{"project_name": f"team-{n}"} for n in range(args.batch_size)]}
        batch_file = work / "teams.yaml"
        batch_file.write_text(json.dumps(teams))
        batch_repeat = max(1, min(args.repeat, 3))
        batch, separate = side_by_side(
            batch_repeat,
            lambda i: lambda: sh([*AZS, "new", "--batch", str(batch_file), str(work / f"batch-{i}"), "--vcs-ref", "HEAD"], env=env),
            lambda i: lambda: [sh([*AZS, "new", str(work / f"separate-{i}" / f"team-{n}"), *stack, *common], env=env)
                               for n in range(args.batch_size)],
        )
        rows.append((f"batch of {args.batch_size} teams vs {args.batch_size} separate `new` runs", batch, "", separate, "<= 0.25x"))

        # 4. upgrade vs bare copier update, each on a fresh committed copy of the same project
        # A real regeneration on both sides: the project is made from the template one commit back, and both update it
        # to HEAD (upgrade runs copier only where it would change something: generator/operations/upgrade.py).
        base = work / "upgrade-base"
        sh([*AZS, "new", str(base), *stack, "--non-interactive", "--vcs-ref", "HEAD~1"], env=env)

        def copy_of(kind: str, i: int) -> Path:
            target = work / f"{kind}-{i}"
            shutil.copytree(base, target, symlinks=True)
            return target

        def bare_update(project: Path) -> Callable[[], None]:
            def action() -> None:
                # The project records the public URL: bare copier gets it from the same bundle, offline.
                with public_url_served_from(template):
                    sh([*COPIER, "update", "--trust", "--defaults", "--quiet", "--vcs-ref", "HEAD"], cwd=project,
                       env={"AZS_SCAFFOLD_ANSWERS_REFRESHED": "1"})
            return action

        upgrade, update = side_by_side(
            args.repeat,
            lambda i: (lambda p: lambda: sh([*AZS, "upgrade", str(p), "--yes", "--vcs-ref", "HEAD"], expect="Upgraded "))(
                copy_of("upgrade", i)),
            lambda i: bare_update(copy_of("update", i)),
        )
        rows.append(("`azs-scaffold upgrade` vs bare `copier update`", upgrade, "", update, "<= 1.0x"))

        # 5. time to first sample: what a team waits for, with uv and with pip side by side, and where it goes
        steps: dict[str, list[dict[str, float]]] = {"uv": [], "pip": [], "uv, its cache filled": []}
        if args.first_sample:
            def first_sample(installer: str, i: int, cache: Path | None = None) -> Callable[[], None]:
                kind = installer if cache is None else "uv, its cache filled"
                project = work / f"first-{installer}-{i}{'-cached' if cache else ''}"
                python = str(Path(AZS[0]).with_name("python"))  # the Python azs-scaffold runs on: uv is beside it

                def action() -> None:
                    steps_env, took = project_env(i, cache), {}
                    took["new"] = timed(lambda: sh([*AZS, "new", str(project), *stack, *common, "--samples", "resource_groups"],
                                                   env=env))
                    took["bootstrap"] = timed(lambda: sh([python, "scripts/bootstrap.py", "--installer", installer], cwd=project,
                                                         env=steps_env, replace_env=True))
                    for name, step in (("registration", "register_providers.py"), ("sample", "samples/resource_groups.py")):
                        took[name] = timed(lambda step=step: sh([str(project / ".venv" / "bin" / "python"), step], cwd=project,
                                                                env=steps_env, replace_env=True))
                    steps[kind].append(took)
                return action

            uv_time, pip_time = side_by_side(max(1, min(args.repeat, 3)), lambda i: first_sample("uv", i),
                                             lambda i: first_sample("pip", i))
            rows.append(("time to first sample (new, bootstrap, registration, sample): uv vs pip", uv_time, "", pip_time,
                         "uv <= 3.0 s"))
            # A team's next project on the same machine: uv's cache holds the locked wheels already (filled by one
            # unmeasured run), so bootstrap downloads nothing; the rest is the same work.
            filled = Path(tempfile.mkdtemp(prefix="uv-cache-filled-"))
            first_sample("uv", 99, filled)()
            steps["uv, its cache filled"].clear()  # the run that filled it is not measured
            cached = statistics.median(timed(first_sample("uv", i, filled)) for i in range(max(1, min(args.repeat, 3))))
            rows.append(("time to first sample with uv, its cache filled (a team's next project) vs with pip", cached, "",
                         pip_time, "(for comparison)"))

    print(concurrency_line())
    print()
    print("| measurement | azs-scaffold (median s) | baseline (median s) | ratio | target |")
    print("|---|---|---|---|---|")
    for what, ours, _, theirs, target in rows:
        print(f"| {what} | {ours:.3f} | {theirs:.3f} | {ours / theirs:.2f}x | {target} |")
    for installer, runs in steps.items():
        if runs:
            print(f"\nTime to first sample with {installer}, medians by step: "
                  + ", ".join(f"{name} {statistics.median(run[name] for run in runs):.2f} s" for name in runs[0]))
    if args.venvs:
        print()
        print(venv_table(work))
    shutil.rmtree(work, ignore_errors=True)


def concurrency_line() -> str:
    """The emulator's list correctness under load: 20 SDK clients listing while the others churn."""
    from azs_emulator import Emulator, EmulatorConfig
    from tests.concurrency import list_while_churning

    with Emulator(EmulatorConfig(layout="loopback", single_host=True, registration_delay=0.1)) as emulator:
        misses, errors, seconds = list_while_churning(emulator.info(), clients=20, rounds=4)
    return (f"Emulator under 20 concurrent SDK clients (4 rounds each of create, list, delete): {len(misses)} missed "
            f"groups, {len(errors)} errors, {seconds:.1f} s.")


# Not in a new machine's environment (this one's sessions set it): with it, Python never keeps the bytecode it compiles,
# so every run in a venv uv made (uv installs no bytecode; pip does) compiles the SDK again, seconds each time.
# UV_COMPILE_BYTECODE=1 has uv compile at install instead, as pip does (README: Speed and size).
NOT_ON_A_NEW_MACHINE = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PYTHONDONTWRITEBYTECODE")


def project_env(i: int, cache: Path | None = None) -> dict[str, str]:
    """A generated project's environment: nothing overrides requests' trust; Python keeps its bytecode; uv's cache
    ``cache``, else empty, as on a new machine."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_ON_A_NEW_MACHINE}
    return {**env, "UV_CACHE_DIR": str(cache) if cache else tempfile.mkdtemp(prefix=f"uv-cache-{i}-")}


def install_wheel(work: Path) -> tuple[list[str], list[str], str]:
    """azs-scaffold and copier from a fresh venv holding the wheel of HEAD; and the template bundle it carries."""
    sh([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work / "dist"), str(ROOT)])
    venv = work / "venv-azs"
    sh([sys.executable, "-m", "venv", str(venv)])
    sh([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", *map(str, (work / "dist").glob("*.whl"))])
    carried = "import generator.templating.template_source as t; print(t.installed_template().src)"
    found = subprocess.run([str(venv / "bin" / "python"), "-c", carried], capture_output=True, text=True, check=True)
    return [str(venv / "bin" / "azs-scaffold")], [str(venv / "bin" / "copier")], found.stdout.strip()


def venv_table(work: Path) -> str:
    """Install time and size above an empty venv: the generated pins vs the official unpinned set."""
    from generator import catalog

    empty = work / "venv-empty"
    subprocess.run([sys.executable, "-m", "venv", str(empty)], check=True)
    baseline = du(empty)
    sets = {
        "generated, resource_groups only": [p.requirement for p in catalog.packages_for(("resource_groups",), catalog.HYBRID_2020)],
        "generated, all samples": [p.requirement for p in catalog.packages_for(catalog.DEFAULT_SAMPLES, catalog.HYBRID_2020)],
        "official samples, unpinned (fails on a Stack)": OFFICIAL_UNPINNED,
    }
    lines = ["| venv | install (s) | size above an empty venv (MB) |", "|---|---|---|"]
    for name, requirements in sets.items():
        target = work / f"venv-{len(lines)}"
        subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
        python = str(target / "bin" / "python")
        command = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *requirements]
        seconds = timed(lambda command=command: sh(command))
        lines.append(f"| {name} | {seconds:.1f} | {(du(target) - baseline) / 1e6:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
