"""twin bench sim's instruments (the bench itself runs the Laredo day: not a test)."""

from __future__ import annotations

from twin.bench.sim import _bare_simpy, _timed_event_log
from twin.events import EventLog


def test_event_log_timer_counts_appends_and_puts_the_method_back():
    original = EventLog.append
    log = EventLog()
    with _timed_event_log() as spent:
        for k in range(50):
            log.append(float(k), "depart", day=0, vehicle_id="v1", stops=k)
    assert EventLog.append is original
    assert len(log) == 50
    assert spent[0] > 0.0
    log.append(99.0, "arrive", day=0)  # the plain method again: nothing more counted
    assert len(log) == 51


def test_bare_simpy_model_serves_every_stop():
    assert _bare_simpy([3, 0, 5]) > 0.0
