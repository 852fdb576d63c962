"""Historical operations in a documented schema: read, validate, export, replay.

A history is a folder of tables (``orders``, ``stops``, and optionally ``pings``
and ``breaks``), each a CSV or Parquet file (``docs/reference/history.md``). This module
is the one place to import them from; the work is done in three modules, one
concept each:

- :mod:`twin.live.history_schema`: the schema, :func:`read_history` (checks every
  cell and the links between tables, and reports every bad row with its file and
  line number: nothing is silently dropped) and :func:`write_history`;
- :mod:`twin.live.simulated_history`: :func:`history_from_result` writes a
  simulated day in the same schema. That is how calibration is tested against
  known truth (simulate under hidden parameters, calibrate, compare) and how a
  simulated day is replayed into the live API;
- :mod:`twin.live.history_feed`: :func:`history_events`, the live events an
  operation would have sent during a history.
"""

from __future__ import annotations

from twin.live.history_feed import history_events
from twin.live.history_schema import (
    OPTIONS,
    OUTCOMES,
    REQUIRED_TABLES,
    SCHEMA,
    Column,
    History,
    HistoryError,
    read_history,
    write_history,
)
from twin.live.simulated_history import history_from_result

__all__ = [
    "OPTIONS",
    "OUTCOMES",
    "REQUIRED_TABLES",
    "SCHEMA",
    "Column",
    "History",
    "HistoryError",
    "history_events",
    "history_from_result",
    "read_history",
    "write_history",
]
