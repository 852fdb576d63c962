"""A site study end to end: solve every ``k``, simulate the answers, write the report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twin.sites.evaluate import Evaluation, simulate, study_result
from twin.sites.model import SiteStudy

if TYPE_CHECKING:
    pass


def parse_k(text: str | int | Sequence[int]) -> list[int]:
    """``3``, ``"1..4"``, ``"1,2,4"`` or a list, as sorted distinct numbers of new sites.

    Raises ``ValueError`` with the accepted forms when ``text`` is none of them.
    """
    try:
        if isinstance(text, int):
            values = [text]
        elif not isinstance(text, str):
            values = [int(v) for v in text]
        elif ".." in text:
            low, high = (int(part) for part in text.split("..", 1))
            values = list(range(low, high + 1))
        else:
            values = [int(part) for part in text.split(",")]
    except (TypeError, ValueError):
        values = []
    if not values or min(values) < 1:
        raise ValueError(
            f"{text!r}: give the numbers of new sites as 3, a range 1..4 or a list 1,2,4 "
            "(each at least 1)"
        )
    return sorted(set(values))


def site_model_warnings(configs: list[Any]) -> list[dict[str, Any]]:
    """A warning when the site model's wall-clock safety cap, not its work budget,
    ended a search: those answers may differ on another machine."""
    stopped = [c.k for c in configs if c.solution.clock_stopped]
    if not stopped:
        return []
    return [
        {
            "code": "site_model_time_limit_hit",
            "message": f"the site model's wall-clock safety cap (sites.time_limit_s) ended "
            f"the search for k = {', '.join(map(str, stopped))} before its work budget "
            "(sites.work_limit): those answers may differ on another machine; raise "
            "sites.time_limit_s or lower sites.work_limit",
            "count": len(stopped),
        }
    ]


def run_study(
    study: SiteStudy,
    ks: Sequence[int],
    *,
    replications: int,
    folder: str | Path,
    workers: int = 1,
    on_start: Any = None,
    on_run: Any = None,
) -> dict[str, Any]:
    """Solve every ``k``, simulate the existing network and each feasible answer, and
    write the report into ``folder``; returns :func:`study_result` with ``report`` added.

    ``on_start(n_runs)`` and ``on_run(outcome)`` let a caller show progress.
    """
    from twin.report.sites import write_sites_report  # charts load only when a study runs

    configs = [study.solve(n) for n in ks]
    baseline = study.baseline()
    to_simulate = [c for c in ([baseline] if baseline else []) + configs if c.solution.feasible]
    evaluations: list[Evaluation] = []
    if replications:
        if on_start is not None:
            on_start(len(to_simulate) * replications)
        evaluations = simulate(
            study, to_simulate, replications=replications, workers=workers, on_run=on_run
        )
    result = study_result(study, configs, evaluations, baseline=baseline)
    result["warnings"] = site_model_warnings([*([baseline] if baseline else []), *configs])
    result["report"] = str(write_sites_report(study, result, configs, baseline, Path(folder)))
    return result
