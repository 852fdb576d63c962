"""Observers watch a run through no-op hooks: every event, every hour, the result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from twin.maps import load_network
from twin.scenario import load_scenario
from twin.sim import Observer, SimResult, Simulation

ROOT = Path(__file__).resolve().parents[2]


class Recorder(Observer):
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.ticks: list[float] = []
        self.results: list[SimResult] = []

    def on_event(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def on_tick(self, now_s: float) -> None:
        self.ticks.append(now_s)

    def on_end(self, result: SimResult) -> None:
        self.results.append(result)


class OnlyEnd:
    """Not an Observer subclass and without the other hooks: still accepted."""

    def __init__(self) -> None:
        self.ended = 0

    def on_end(self, result: SimResult) -> None:
        self.ended += 1


def test_observers_and_on_event_see_every_event_every_hour_and_the_end():
    scenario = load_scenario(ROOT / "scenarios" / "small_grid.yaml").model_copy(update={"days": 1})
    network = load_network(scenario.map.ref)
    recorder, only_end, called = Recorder(), OnlyEnd(), []
    result = Simulation(
        scenario, network, on_event=called.append, observers=[recorder, only_end]
    ).run()
    events = result.events
    assert len(recorder.events) == len(called) == len(events) > 0
    assert [e["kind"] for e in recorder.events] == events["kind"].tolist()
    # Every hour that passes within the run (it stops at the horizon, before midnight's).
    assert recorder.ticks == [h * 3600.0 for h in range(1, 24)]
    assert recorder.results == [result]
    assert only_end.ended == 1


def test_a_base_observer_changes_nothing():
    scenario = load_scenario(ROOT / "scenarios" / "small_grid.yaml").model_copy(update={"days": 1})
    network = load_network(scenario.map.ref)
    plain = Simulation(scenario, network).run()
    watched = Simulation(scenario, network, observers=[Observer()]).run()
    assert plain.log.digest() == watched.log.digest()
