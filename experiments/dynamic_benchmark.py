"""Dispatch policies on the EURO Meets NeurIPS 2022 dynamic days: the per-instance table.

Runs ``twin bench dynamic`` (every policy on every instance's day, the same
requests for all) and writes ``experiments/dynamic_benchmark.md``: the summary,
then one row per instance with each policy's cost and its difference from
greedy, and the wall time each policy took.

    .venv/bin/python experiments/dynamic_benchmark.py --instances 10 --budget 500
    .venv/bin/python experiments/dynamic_benchmark.py --from-json result.json

About 5 s per instance for greedy, lazy and prize and 20 s for sample at 500
iterations per epoch on this machine; ``--workers 2`` halves the wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

from twin.bench.dynamic import POLICIES, run

HERE = Path(__file__).resolve().parent
OUT = HERE / "dynamic_benchmark.md"


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def render(result: dict[str, Any], command: str) -> str:
    """The markdown page of a ``twin bench dynamic --json`` result."""
    names = list(result["policies"])
    lines = [
        "# Dispatch policies on the EURO Meets NeurIPS 2022 dynamic days",
        "",
        f"`{command}`, {dt.date.today().isoformat()}, commit {_commit()}: "
        f"{result['budget']} PyVRP iterations per epoch for every policy, "
        f"requests seeded with {result['seed']} (each instance has its own day, the "
        "same for every policy). Cost: total driving time (s) over the day's epochs. "
        "The rules and the policies: `twin/bench/epochs.py`, `twin/dispatch/postpone.py`.",
        "",
        "| policy | mean cost | vs greedy | instances | feasible | mean wall s per day |",
        "|---|---|---|---|---|---|",
    ]
    rows = result["rows"]
    for name in names:
        p = result["policies"][name]
        own = [r for r in rows if r["policy"] == name]
        wall = sum(r["time_s"] for r in own) / max(len(own), 1)
        mean = f"{p['mean_cost']:,.0f}" if p["mean_cost"] is not None else "-"
        lines.append(
            f"| {name} | {mean} | {p['vs_greedy_pct']:+.2f} % | {p['instances']} | "
            f"{p['feasible']} | {wall:.1f} |"
        )
    lines += [
        "",
        "Per instance (cost, and the difference from greedy on the same day):",
        "",
        "| instance | epochs | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    by_instance: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_instance.setdefault(r["instance"], {})[r["policy"]] = r
    for instance, per in by_instance.items():
        greedy = per.get("greedy", {}).get("cost")
        cells = []
        for name in names:
            r = per.get(name)
            if r is None or not r["feasible"]:
                cells.append("infeasible" if r else "-")
            elif greedy and name != "greedy":
                cells.append(f"{r['cost']:,.0f} ({100 * (r['cost'] - greedy) / greedy:+.1f} %)")
            else:
                cells.append(f"{r['cost']:,.0f}")
        epochs = next(iter(per.values()))["epochs"]
        lines.append(f"| {instance} | {epochs} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=None, help="the first N instances")
    parser.add_argument("--budget", type=int, default=500, help="PyVRP iterations per epoch")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", default=",".join(POLICIES), help="policies, comma-separated")
    parser.add_argument("--from-json", type=Path, help="render a saved --json result instead")
    args = parser.parse_args(argv)
    if args.from_json:
        result = json.loads(args.from_json.read_text())
        command = f"twin bench dynamic --epochs-budget {result['budget']} --json"
    else:
        policies = [p for p in args.only.split(",") if p]
        result = run(
            policies=policies, budget=args.budget, instances=args.instances, workers=args.workers
        )
        command = f"experiments/dynamic_benchmark.py --budget {args.budget} --only {args.only}" + (
            f" --instances {args.instances}" if args.instances else ""
        )
    OUT.write_text(render(result, command))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
