"""``twin validate``: the simulation against closed forms and its own stated odds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from twin.cli._render import err, out, print_json, user_errors

if TYPE_CHECKING:
    from twin.validate import CheckResult

__all__ = ["validate_cmd"]


@user_errors
def validate_cmd(
    only: Annotated[
        str | None,
        typer.Option(help="Comma-separated checks to run (default: all)."),
    ] = None,
    fast: Annotated[
        bool, typer.Option(help="Smaller scenarios: wider bands, ~35 s not ~6 min.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run purpose-built scenarios and set each simulated figure beside its expected
    value, with the band the verdict uses (the simulated value's 95 % interval, a
    tolerance, or exact). Exit status 1 if a check fails."""
    from twin.validate import run_checks

    names = [n.strip() for n in only.split(",") if n.strip()] if only else None

    def said(result: CheckResult) -> None:
        if not json_out:
            err.print(f"checked {result.name}", highlight=False)

    results = run_checks(names, fast=fast, progress=said)
    if json_out:
        print_json({"checks": [r.to_json() for r in results], "fast": fast})
    else:
        table = Table(
            title="twin validate" + (" (fast)" if fast else ""), box=box.SIMPLE_HEAD, pad_edge=False
        )
        for col in ("check", "expected", "simulated", "band", "result"):
            table.add_column(col, no_wrap=True)
        for r in results:
            table.add_row(
                r.name,
                _num(r.expected),
                _num(r.simulated),
                r.band if r.band == "exact" else f"{_num(r.low)}–{_num(r.high)} {r.band}",
                "[green]pass[/]" if r.passed else "[bold red]FAIL[/]",
            )
        out.print(table)
        for r in results:
            out.print(
                f"{r.name} ({r.unit}, n = {r.n}): {r.what}. Expected: {r.source}.",
                highlight=False,
            )
    if not all(r.passed for r in results):
        raise typer.Exit(code=1)


def _num(x: float) -> str:
    """Three significant figures, without exponents for large values."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"
