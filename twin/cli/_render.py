"""What every command shares: the consoles, user errors as exit status 2, JSON
on stdout, the progress bar and the number formats of the tables.

User mistakes (a missing map, a bad file, an unreachable query) print one red
sentence on stderr and exit with status 2; they never print a traceback.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from twin.errors import TwinError

__all__ = [
    "ci_text",
    "err",
    "number",
    "out",
    "plus_minus",
    "print_json",
    "print_warnings",
    "progress_bar",
    "user_errors",
]

out = Console()
err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    """Turn :class:`TwinError` into one clear line on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TwinError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


def print_warnings(warnings: list[dict[str, Any]], *, replications: int = 1) -> None:
    """One line per warning of a run, on stderr: the shortcuts its numbers depend on."""
    for w in warnings:
        where = ""
        if replications > 1 and "replications" in w:  # a run-set warning names none
            where = f" (in {len(w['replications'])} of {replications} replications)"
        err.print(
            f"[bold yellow]warning:[/] {w['message']}{where}", highlight=False, soft_wrap=True
        )


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    # Plain print, not rich: JSON on stdout must stay machine-readable.
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def progress_bar(*, enabled: bool) -> Any:
    """A progress bar with elapsed time and ETA; a no-op when ``enabled`` is False."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        disable=not enabled,
        transient=True,
    )


def number(value: Any) -> str:
    """A KPI value in a table cell (four significant digits, a dash for none)."""
    return "—" if value is None else f"{value:.4g}"


def ci_text(ci: Any) -> str:
    """A 95 % interval in a table cell, a dash when there is none."""
    if not ci or ci[0] is None:
        return "—"
    return f"[{ci[0]:.4g}, {ci[1]:.4g}]"


def plus_minus(stat: dict[str, Any]) -> str:
    """``mean ± half-width`` of a summary statistic with its interval."""
    mean, ci = stat["mean"], stat["ci"]
    if mean is None or not ci or ci[0] is None:
        return number(mean)
    return f"{mean:.4g} ± {(ci[1] - ci[0]) / 2:.2g}"
