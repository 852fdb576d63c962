#!/usr/bin/env bash
# Route quality against best-known solutions, with the time limits of issue 4.
# Writes one JSON summary and one CSV of rows per family into experiments/results/.
# Usage: bash experiments/routing_benchmarks.sh [BACKEND]   (default: auto)
# Needs ../shared/benchmarks beside the repository; takes about 25 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
backend="${1:-auto}"
bench="../shared/benchmarks"
out="experiments/results"
mkdir -p "$out"
run() {  # family folder, seconds per instance
    local name="${1//\//_}"
    .venv/bin/twin bench routing --instances "$bench/$1" --time-limit "$2" --workers 2 \
        --backend "$backend" --json --csv "$out/routing_${name}_${backend}.csv" \
        > "$out/routing_${name}_${backend}.json"
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(sys.argv[1], {k: d[k] for k in ('n_instances','n_feasible','mean_gap_pct','max_gap_pct','n_more_vehicles','convention')})" \
        "$out/routing_${name}_${backend}.json"
}
run solomon 10
run li_lim 10
run gehring_homberger/200 30
