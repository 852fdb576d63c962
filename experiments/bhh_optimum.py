"""How far above the Beardwood–Halton–Hammersley law a day of 101 points lands.

``twin validate``'s ``bhh_tours`` check allows 3 % between the law's constant
and the simulated tours (:mod:`twin.validate.tours`). This script measures the
two reasons: the finite-size excess of the optimum over the asymptotic law, and
the planner's heuristic gap. For each of the check's straight-road point sets it
prints the planner's tour (the simulated van's day, as the check drives it) and
the best of three direct PyVRP solves of the same torus distances (other seeds,
5,000 iterations), each over ``sqrt(N A)``; then the means.

    .venv/bin/python experiments/bhh_optimum.py --days 7
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from pyvrp import Model
from pyvrp.stop import MaxIterations
from scipy import stats

from twin.validate.tours import BETA_TORUS, SEED, SIDE_M, straight_torus, tour_ratios


def direct_best(points: np.ndarray, seeds: int, iterations: int) -> float:
    """Shortest tour (m) PyVRP finds on the points' torus distances in ``seeds`` runs."""
    gap = np.abs(points[:, None, :] - points[None, :, :])
    dist = np.hypot(*np.moveaxis(np.minimum(gap, SIDE_M - gap), -1, 0))
    model = Model()
    locations = [model.add_location(x=0, y=0) for _ in points]
    model.add_depot(locations[0])
    for loc in locations[1:]:
        model.add_client(loc)
    model.add_vehicle_type(1)
    for i, a in enumerate(locations):
        for j, b in enumerate(locations):
            if i != j:
                model.add_edge(a, b, distance=round(dist[i, j] * 1000))
    # A fresh stopping criterion per run: MaxIterations counts the calls it has seen.
    runs = (
        model.solve(stop=MaxIterations(iterations), seed=s, display=False) for s in range(seeds)
    )
    return min(r.cost() for r in runs) / 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--points", type=int, default=101)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=5000)
    args = parser.parse_args()
    scale = math.sqrt(args.points) * SIDE_M
    planner, best = [], []
    print("day  planner  direct best  best of all")
    for k in range(args.days):
        points = np.random.default_rng([SEED, k]).random((args.points, 2)) * SIDE_M
        net = straight_torus(points, SIDE_M)
        ratio = float(tour_ratios(net, [list(range(1, args.points + 1))], SIDE_M**2)[0])
        direct = direct_best(points, args.seeds, args.iterations) / scale
        planner.append(ratio)
        best.append(min(ratio, direct))
        print(f"{k:>3}  {ratio:.4f}   {direct:.4f}       {best[-1]:.4f}", flush=True)
    b, p = np.array(best), np.array(planner)
    n = len(b)
    half = stats.t.ppf(0.975, n - 1) * b.std(ddof=1) / math.sqrt(n) if n > 1 else math.nan
    print(
        f"best known: {b.mean():.4f} ({b.mean() / BETA_TORUS - 1:+.1%} vs beta {BETA_TORUS}, "
        f"95 % interval ±{half / BETA_TORUS:.1%}); planner: {p.mean():.4f} "
        f"({p.mean() / b.mean() - 1:+.1%} vs best known)"
    )


if __name__ == "__main__":
    main()
