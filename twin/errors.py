"""Errors a user can act on.

Every error twin raises for bad input is a :class:`TwinError`: its message is one
sentence that names the input (file, field, map, query) and says how to fix it.
The CLI prints that sentence and exits with status 2; it never shows a traceback
for these. Programming errors stay ordinary exceptions so they are not hidden.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ExperimentError",
    "MapError",
    "ScenarioError",
    "TwinError",
    "UnreachableError",
    "time_zone",
]


class TwinError(Exception):
    """Base class of user-facing errors (bad input, unreachable place, missing data)."""


class MapError(TwinError, ValueError):
    """A road network could not be loaded, fetched or used as asked."""


class ScenarioError(TwinError, ValueError):
    """A scenario file or setting is invalid."""


class ExperimentError(TwinError, ValueError):
    """An experiment (sweep) file, its result store or an execution backend is unusable."""


class UnreachableError(TwinError, LookupError):
    """No route exists between two places on the routable network at that time."""


def time_zone(name: str, *, option: str = "--timezone") -> Any:
    """The IANA time zone ``name`` (a :class:`zoneinfo.ZoneInfo`), or one clear error.

    Zone names come from users (``--timezone``, API settings); an unknown one is
    bad input, named with where it came from, not a traceback.
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TwinError(
            f"{option} {name!r} is not a known IANA time zone; give one such as "
            "'America/Chicago' (Laredo) or 'America/Monterrey' (Nuevo Laredo)."
        ) from None
