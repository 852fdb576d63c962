"""Observers: progress bars, logging and live streams watch a run through no-op hooks.

An observer is any object with the hooks it needs; :class:`Observer` has all
three doing nothing, to subclass. The engine calls ``on_event`` with every event
as it is logged, ``on_tick`` on every simulated hour, and ``on_end`` with the
result. Observers only watch: they must not change what they are given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from twin.sim.tables import SimResult

__all__ = ["EventCallback", "Observer", "SimObserver"]


class SimObserver(Protocol):
    """What the engine calls (every hook is optional to implement: see :class:`Observer`)."""

    def on_event(self, event: dict[str, Any]) -> None: ...

    def on_tick(self, now_s: float) -> None: ...

    def on_end(self, result: SimResult) -> None: ...


class Observer:
    """An observer that does nothing: subclass it and override the hooks you need."""

    def on_event(self, event: dict[str, Any]) -> None:
        """Called with each event (a dict of the log's columns) as it is logged."""

    def on_tick(self, now_s: float) -> None:
        """Called every simulated hour, after the customers have stepped."""

    def on_end(self, result: SimResult) -> None:
        """Called once with the run's result."""


class EventCallback(Observer):
    """Adapts a plain callable (the ``on_event`` argument of :class:`Simulation`)."""

    def __init__(self, callback: Callable[[dict[str, Any]], None]) -> None:
        self.callback = callback

    def on_event(self, event: dict[str, Any]) -> None:
        self.callback(event)
