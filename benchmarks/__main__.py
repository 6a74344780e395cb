"""Run the benchmarks: ``python -m benchmarks`` starts the local broker, runs every scenario,
prints a table and writes the figures as JSON.

Each hub figure is set against a baseline measured in the same run on the same broker, since
these machines are shared and noisy; ``--quick`` runs every scenario at a small size, to check
the benchmarks themselves rather than to measure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop

from benchmarks import csv_import, delivery, fhir_ingest, latency, memory, national, replay, router
from benchmarks.common import Figure, identity_provider, quiet_logging
from tests.kafka_broker import kafka_bootstrap

FULL = {
    "router": 20_000,
    "latency_rps": 200,
    "latency_seconds": 60,
    "delivery_rps": 200,
    "delivery_seconds": 60,
    "fhir": 10_000,
    "replay": 1_000_000,
    "csv": 1_000_000,
    "cases": 1_000_000,
    "national_percent": 100,
}
QUICK = {
    "router": 1_000,
    "latency_rps": 50,
    "latency_seconds": 5,
    "delivery_rps": 50,
    "delivery_seconds": 5,
    "fhir": 300,
    "replay": 5_000,
    "csv": 2_000,
    "cases": 20_000,
    "national_percent": 5,
}


POSTGRES_ONLY = ("latency-postgres", "latency-split-postgres")


def scenarios(
    sizes: dict[str, int], workdir: Path, postgres: str | None = None
) -> dict[str, Callable[[str], Coroutine[Any, Any, list[Figure]]]]:
    """Every scenario by name; those in ``POSTGRES_ONLY`` need ``postgres``, an admin URL."""
    return {
        "router": lambda b: router.run(b, workdir, sizes["router"]),
        "latency": lambda b: latency.run(b, workdir, sizes["latency_rps"], sizes["latency_seconds"]),
        "latency-split": lambda b: latency.run(b, workdir, sizes["latency_rps"], sizes["latency_seconds"], split=True),
        "latency-postgres": lambda b: latency.run(
            b, workdir, sizes["latency_rps"], sizes["latency_seconds"], postgres=postgres
        ),
        "latency-split-postgres": lambda b: latency.run(
            b, workdir, sizes["latency_rps"], sizes["latency_seconds"], split=True, postgres=postgres
        ),
        "delivery": lambda b: delivery.run(b, workdir, sizes["delivery_rps"], sizes["delivery_seconds"]),
        "delivery-split": lambda b: delivery.run(
            b, workdir, sizes["delivery_rps"], sizes["delivery_seconds"], split=True
        ),
        "fhir": lambda b: fhir_ingest.run(b, workdir, sizes["fhir"]),
        "replay": lambda b: replay.run(b, workdir, sizes["replay"]),
        "csv": lambda b: csv_import.run(b, workdir, sizes["csv"]),
        "memory": lambda b: memory.run(b, workdir, sizes["cases"]),
        "national": lambda b: national.run(b, workdir, sizes["national_percent"] / 100),
    }


def machine() -> dict[str, Any]:
    mem_kib = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def table(figures: list[Figure]) -> str:
    header = ("scenario", "measure", "hub", "baseline", "ratio", "target", "met", "peak RSS MiB")
    rows = [
        (
            f.scenario,
            f.measure,
            f"{f.hub:g} {f.unit}",
            "" if f.baseline is None else f"{f.baseline:g} ({f.baseline_name})",
            "" if f.ratio is None else f"{f.ratio:.3f}",
            f.target or "",
            "" if f.met is None else ("yes" if f.met else "no"),
            "" if f.peak_rss_mib is None else f"{f.peak_rss_mib:g}",
        )
        for f in figures
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def write_report(out: Path, sizes: dict[str, int], figures: list[Figure]) -> None:
    report = {
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "sizes": sizes,
        "figures": [asdict(f) | {"ratio": f.ratio} for f in figures],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: check the benchmarks run, not the figures")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(scenarios(FULL, Path()).keys()),
        help="run only these scenarios",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/latest.json"))
    parser.add_argument(
        "--postgres",
        default=os.environ.get("HUB_BENCH_POSTGRES_URL"),
        metavar="ADMIN_URL",
        help="a PostgreSQL server on which to make fresh databases, for the scenarios that compare it with SQLite "
        f"({', '.join(POSTGRES_ONLY)}; skipped without it); default $HUB_BENCH_POSTGRES_URL",
    )
    args = parser.parse_args()
    quiet_logging()
    sizes = QUICK if args.quick else FULL
    figures: list[Figure] = []
    with (
        tempfile.TemporaryDirectory(prefix="ehc-hub-bench-") as tmp,
        kafka_bootstrap() as bootstrap,
        identity_provider(),
    ):
        for name, scenario in scenarios(sizes, Path(tmp), args.postgres).items():
            if args.only and name not in args.only:
                continue
            if name in POSTGRES_ONLY and not args.postgres:
                print(f"skipping {name}: no PostgreSQL server given (--postgres)", flush=True)
                continue
            print(f"running {name} ...", flush=True)
            figures += uvloop.run(scenario(bootstrap))
            write_report(args.out, sizes, figures)  # after each scenario, so a long run keeps what it measured
    print(table(figures))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
