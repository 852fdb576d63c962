"""What every command shares: the consoles, user errors as exit status 2, JSON
on stdout, the progress bar and the number formats of the tables.

User mistakes (a missing map, a bad file, an unreachable query) print one red
sentence on stderr and exit with status 2; they never print a traceback.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from twin.errors import TwinError

__all__ = [
    "PlainProgress",
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


def print_warnings(warnings: list[dict[str, Any]]) -> None:
    """One line per warning of a run, on stderr: the shortcuts its numbers depend on."""
    for w in warnings:  # with several replications, each message says which and how many
        err.print(f"[bold yellow]warning:[/] {w['message']}", highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    # Plain print, not rich: JSON on stdout must stay machine-readable.
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def progress_bar(*, enabled: bool) -> Any:
    """Progress on stderr: a live bar with elapsed time and ETA on a terminal, plain
    lines (:class:`PlainProgress`) in logs and CI, nothing when not ``enabled``.
    Both have rich's ``add_task``/``update``/``advance``."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    if enabled and not err.is_terminal:
        return PlainProgress()
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


class PlainProgress:
    """Progress as plain lines on stderr, for output that is not a terminal (a log
    file, CI): a line when a task advances (at most one per ``every_s`` seconds, and
    always the last step) and one every ``every_s`` seconds while nothing moves, so
    a long run is never silent and a command that fails at once prints only its
    error. ``every_s`` defaults to 10 s, or the ``TWIN_PROGRESS_EVERY_S`` environment
    variable; ``clock`` is the monotonic clock (tests pass a fake and call
    :meth:`beat` themselves instead of entering the context)."""

    def __init__(
        self, every_s: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.every_s = float(os.environ.get(_EVERY_ENV, 10.0)) if every_s is None else every_s
        self._clock = clock
        self._tasks: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._last = 0.0
        self._thread = threading.Thread(target=self._heartbeat, daemon=True)

    def __enter__(self) -> PlainProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def add_task(self, description: str, total: float | None = None, **_: Any) -> int:
        with self._lock:
            now = self._clock()
            task = {"description": description, "total": total, "done": 0, "start": now}
            self._tasks.append(task)
            self._last = now  # the first line comes with progress or the first heartbeat
            return len(self._tasks) - 1

    def update(
        self, task: int, *, total: float | None = None, description: str | None = None, **_: Any
    ) -> None:
        with self._lock:
            if total is not None:
                self._tasks[task]["total"] = total
            if description is not None:
                self._tasks[task]["description"] = description

    def advance(self, task: int, advance: float = 1) -> None:
        with self._lock:
            entry = self._tasks[task]
            entry["done"] += advance
            finished = entry["total"] is not None and entry["done"] >= entry["total"]
            if finished or self._clock() - self._last >= self.every_s:
                self._say(entry)

    def _say(self, entry: dict[str, Any]) -> None:
        total = "?" if entry["total"] is None else f"{entry['total']:g}"
        elapsed = self._clock() - entry["start"]
        print(
            f"{entry['description']}: {entry['done']:g}/{total} done, {elapsed:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        self._last = self._clock()

    def beat(self) -> None:
        """A line for the latest task if nothing was said for ``every_s`` seconds."""
        with self._lock:
            if self._tasks and self._clock() - self._last >= self.every_s:
                self._say(self._tasks[-1])

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.every_s / 4):
            self.beat()


#: Seconds between plain progress lines (logs and CI); default 10.
_EVERY_ENV = "TWIN_PROGRESS_EVERY_S"


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
