"""``twin run`` on every shipped scenario with every shipped policy: does each one end?

For each ``scenarios/*.yaml`` and each policy of :data:`twin.dispatch.POLICIES`, the
scenario file is copied with its ``policy`` section replaced by that policy alone
(default parameters, the scenario's own safety cap) and run through the command
line exactly as a user would, one measured day, no report. Printed per run: exit
status, wall seconds, delivered, on-time rate, the warnings' codes, and the last
line of stderr when the run failed. Run from the repository root::

    .venv/bin/python experiments/every_policy.py [--jobs 2] [--scenarios laredo_baseline,...]

Exit status 1 if any run ended with a traceback or an exit status other than 0
or 3 (``--strict`` is not passed, so 3 cannot happen; 2 is a refused input and is
printed with its message). It measures and prints; nothing here gates a test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from twin.dispatch import POLICIES

ROOT = Path(__file__).resolve().parents[1]
TWIN = Path(sys.executable).with_name("twin")


def run_one(scenario: Path, policy: str, work: Path) -> dict[str, Any]:
    data = yaml.safe_load(scenario.read_text())
    limit = (data.get("policy") or {}).get("time_limit_s")
    data["policy"] = {"name": policy, **({"time_limit_s": limit} if limit else {})}
    data.pop("variants", None)
    sites = data.get("sites") or {}
    if isinstance(sites.get("candidates"), str):  # relative to the scenario's own folder
        sites["candidates"] = str(scenario.parent / sites["candidates"])
    path = work / f"{scenario.stem}__{policy}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    out = work / f"out_{scenario.stem}__{policy}"
    started = time.perf_counter()
    proc = subprocess.run(
        [str(TWIN), "run", str(path), "--days", "1", "--no-report", "--json", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    row: dict[str, Any] = {
        "scenario": scenario.stem,
        "policy": policy,
        "exit": proc.returncode,
        "wall_s": round(time.perf_counter() - started, 1),
        "traceback": "Traceback (most recent call last)" in proc.stderr,
    }
    if proc.returncode == 0:
        summary = json.loads(proc.stdout)
        means = {k: v["mean"] for k, v in summary["kpis"].items()}
        row |= {
            "delivered": means.get("delivered"),
            "on_time": means.get("on_time_rate"),
            "warnings": ",".join(w["code"] for w in summary["warnings"]),
        }
    else:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        row["error"] = lines[-1] if lines else ""
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (default 2)")
    parser.add_argument("--scenarios", default="", help="comma-separated stems (default: all)")
    parser.add_argument("--policies", default="", help="comma-separated names (default: all)")
    args = parser.parse_args()
    stems = {s for s in args.scenarios.split(",") if s}
    scenarios = [
        p for p in sorted((ROOT / "scenarios").glob("*.yaml")) if not stems or p.stem in stems
    ]
    policies = [p for p in args.policies.split(",") if p] or list(POLICIES)
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        jobs = [pool.submit(run_one, s, p, Path(tmp)) for s in scenarios for p in policies]
        rows = []
        for job in jobs:
            row = job.result()
            rows.append(row)
            print(json.dumps(row), flush=True)
    bad = [r for r in rows if r["traceback"] or r["exit"] not in (0, 2)]
    refused = [r for r in rows if r["exit"] == 2]
    print(f"{len(rows)} runs: {len(bad)} crashed, {len(refused)} refused with a message")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
