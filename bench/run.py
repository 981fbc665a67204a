"""Run the benchmarks: `python bench/run.py [SCENARIO ...]`; results go to bench/results/.

Settings (environment, see bench/README.md): BENCH_DURATION (10s), BENCH_WARMUP (2s), BENCH_ROUNDS
(1), BENCH_CONNECTIONS (64), BENCH_THREADS (2, wrk threads), BENCH_WORKERS (os.cpu_count(): one
server process per core, register and baselines alike), BENCH_DATABASES (sqlite,postgres),
BENCH_POSTGRES_URL (.../register_bench, dropped and recreated), BENCH_EMPLOYEES (100000),
BENCH_SQLITE_MODE (sync|thread). The exit code is 0 when the figures were taken, whatever they
say; non-zero only when something broke.
"""

from __future__ import annotations

import shutil
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import (
    accounts,
    connections,
    connections_memory,
    core,
    handovers,
    incidents,
    notifications,
    pages,
    topology,
)
from bench.common import (
    RUN_DIR,
    BenchConfig,
    BenchError,
    Report,
    cleanup_on_exit,
    environment,
    log,
    write_report,
)

# name -> (run the scenario, render its markdown). Later issues add theirs here.
SCENARIOS: dict[str, tuple[Callable[[BenchConfig], Report], Callable[[Report, dict], str]]] = {
    "core": (core.run, core.markdown),
    "accounts": (accounts.run, accounts.markdown),
    "incidents": (incidents.run, incidents.markdown),
    "notifications": (notifications.run, notifications.markdown),
    "handovers": (handovers.run, handovers.markdown),
    "connections": (connections.run, connections.markdown),
    "connections_memory": (connections_memory.run, connections_memory.markdown),
    "pages": (pages.run, pages.markdown),
    "topology": (topology.run, topology.markdown),
}
# Scenarios that upload files instead of driving load with wrk.
WITHOUT_WRK = {"connections_memory"}


def main(argv: list[str]) -> int:
    """Run the named scenarios (all by default) and print their tables."""
    names = argv or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s) {unknown}; choose from {sorted(SCENARIOS)}", file=sys.stderr)
        return 2
    if shutil.which("wrk") is None and set(names) - WITHOUT_WRK:
        print("wrk is not installed (Debian: apt-get install -y wrk)", file=sys.stderr)
        return 2
    try:
        config = BenchConfig.from_env()
    except (BenchError, ValueError) as exc:
        print(f"bad benchmark settings: {exc}", file=sys.stderr)
        return 2
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    RUN_DIR.mkdir(parents=True)
    meta = environment(config)
    status = 0
    with cleanup_on_exit():
        for name in names:
            run, render = SCENARIOS[name]
            try:
                report = run(config)
            except KeyboardInterrupt:
                log("interrupted")
                return 130
            except BenchError as exc:
                log(f"scenario {name} broke: {exc}")
                status = 1
                continue
            except Exception:
                log(f"scenario {name} broke:\n{traceback.format_exc()}")
                status = 1
                continue
            text = render(report, meta)
            json_path, md_path = write_report(report, meta, text)
            print(text)
            log(f"wrote {json_path} and {md_path}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
