"""The replay tool: pacing at N x real time, batching, retries with the same event ids,
duplicates on a second replay, and a final state equal to folding the same events locally.

The API runs in-process (FastAPI's TestClient); ``sleep`` and ``clock`` are fakes,
so a paced replay takes no wall time and its schedule can be checked exactly.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from twin.live.api import ServeSettings, create_app
from twin.live.events import LiveClock, parse_event
from twin.live.history import history_from_result, write_history
from twin.live.replay import ReplayError, ReplayStats, load_recorded_day, replay
from twin.live.state import LiveState
from twin.maps import load_network
from twin.scenario import load_scenario
from twin.sim import Simulation

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 behind its TestClient; the project installs httpx,
    # with which the client works the same. Only the import warns.
    warnings.simplefilter("ignore", UserWarning)
    from fastapi.testclient import TestClient

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "small_grid.yaml"
TOKEN = "replay-token"
URL = "http://twin.test"


# -- fakes --------------------------------------------------------------------------------
@dataclass
class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps (or a test says)."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class EmptyForecast:
    as_of_s: float
    elapsed_s: float = 0.0
    samples: int = 1
    orders: dict[str, Any] = field(default_factory=dict)
    routes: dict[str, Any] = field(default_factory=dict)


class NoForecaster:
    """Forecasts play no part in replay; an empty one keeps the server's thread idle."""

    def predict(self, state: LiveState) -> EmptyForecast:
        return EmptyForecast(as_of_s=state.now_s)


@dataclass
class Recorder:
    """An httpx transport in front of the app: records each request's event ids and the
    fake time it was sent at, and can fail chosen attempts.

    ``fail`` maps an attempt number (0-based, over all requests) to ``"before"`` (the
    connection drops before the server sees it) or ``"after"`` (the server stores the
    batch, then the response is lost: a timeout).
    """

    app_client: TestClient
    time: FakeTime
    fail: dict[int, str] = field(default_factory=dict)
    cost_s: float = 0.0
    sent: list[tuple[float, list[str]]] = field(default_factory=list)
    statuses: list[int | str] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        attempt = len(self.sent)
        ids = [e["event_id"] for e in json.loads(request.content)["events"]]
        self.sent.append((self.time.now, ids))
        self.time.now += self.cost_s
        how = self.fail.get(attempt)
        if how == "before":
            self.statuses.append("dropped")
            raise httpx.ConnectError("connection refused", request=request)
        response = self.app_client.post(
            request.url.path,
            content=request.content,
            headers={
                "Authorization": request.headers.get("Authorization", ""),
                "Content-Type": "application/json",
            },
        )
        if how == "after":
            self.statuses.append("lost")
            raise httpx.ReadTimeout("timed out", request=request)
        self.statuses.append(response.status_code)
        return httpx.Response(response.status_code, content=response.content)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


# -- fixtures -----------------------------------------------------------------------------
@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = ServeSettings(scenario=SCENARIO, data_dir=tmp_path / "data", token=TOKEN)
    with TestClient(create_app(settings, forecaster=NoForecaster())) as c:
        yield c


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def recorder(app_client: TestClient, fake_time: FakeTime) -> Recorder:
    return Recorder(app_client, fake_time)


@pytest.fixture(scope="module")
def recorded_day() -> list[dict]:
    """The small grid city's simulated days as the live events they would have sent."""
    return load_recorded_day(SCENARIO)


def local_digest(events: list[dict]) -> str:
    """The state folded locally from the same events, as the server folds them."""
    scenario = load_scenario(SCENARIO)
    network = load_network(scenario.map.ref, network_type=scenario.map.network_type)
    state = LiveState(scenario, network, LiveClock(scenario.start_date))
    for event in events:
        state.apply(parse_event(event))
    return state.digest()


def run(
    events: list[dict], recorder: Recorder, **kw: Any
) -> tuple[ReplayStats, Callable[[], None]]:
    client = recorder.client()
    kw.setdefault("token", TOKEN)
    stats = replay(
        events,
        url=URL,
        client=client,
        sleep=recorder.time.sleep,
        clock=recorder.time.clock,
        **kw,
    )
    return stats, client.close


# -- hand-made events with known times ----------------------------------------------------
A = (27.5540, -99.4960)


def order(n: int, at: str) -> dict:
    return {
        "event_id": f"order-{n}",
        "type": "order_created",
        "time": f"2026-03-02T{at}",
        "order_id": f"o{n}",
        "lat": A[0],
        "lon": A[1],
        "window_start": "2026-03-02T09:00:00",
        "window_end": "2026-03-02T11:00:00",
    }


def ids(batch: tuple[float, list[str]]) -> list[str]:
    return batch[1]


# -- pacing -------------------------------------------------------------------------------
def test_pacing_divides_event_gaps_by_speed(recorder: Recorder) -> None:
    events = [
        order(1, "08:00:00"),
        order(2, "08:00:00"),
        order(3, "08:01:00"),
        order(4, "08:01:00"),
        order(5, "08:03:30"),
    ]
    stats, close = run(events, recorder, speed=60.0)
    close()
    # 60 s of event time is 1 s of wall time at 60x; same-time events go together.
    assert [t for t, _ in recorder.sent] == pytest.approx([0.0, 1.0, 3.5])
    assert [ids(b) for b in recorder.sent] == [
        ["order-1", "order-2"],
        ["order-3", "order-4"],
        ["order-5"],
    ]
    assert recorder.time.sleeps == pytest.approx([1.0, 2.5])
    assert stats.batches == 3
    assert stats.sent == 5
    assert stats.accepted == 5
    assert stats.elapsed_s == pytest.approx(3.5)


def test_speed_scales_the_schedule(recorder: Recorder) -> None:
    events = [order(1, "08:00:00"), order(2, "09:00:00"), order(3, "10:30:00")]
    stats, close = run(events, recorder, speed=1800.0)
    close()
    # An hour at 1800x is 2 s; 90 minutes is 3 s more.
    assert [t for t, _ in recorder.sent] == pytest.approx([0.0, 2.0, 5.0])
    assert stats.elapsed_s == pytest.approx(5.0)


def test_a_sender_that_falls_behind_sends_everything_due_at_once(recorder: Recorder) -> None:
    # Events a minute apart at 60x are due every second, but each request takes 2.5 s.
    recorder.cost_s = 2.5
    events = [order(n, f"08:0{n}:00") for n in range(6)]
    stats, close = run(events, recorder, speed=60.0)
    close()
    # t=0: order-0; t=2.5: orders 1-2 are due; t=5: 3-5 are due (5 at exactly 5 s).
    assert [ids(b) for b in recorder.sent] == [
        ["order-0"],
        ["order-1", "order-2"],
        ["order-3", "order-4", "order-5"],
    ]
    assert recorder.time.sleeps == []
    assert stats.sent == 6


@pytest.mark.parametrize("speed", [0.0, math.inf])
def test_speed_zero_or_inf_is_as_fast_as_possible(recorder: Recorder, speed: float) -> None:
    events = [order(n, f"{8 + n // 60:02d}:{n % 60:02d}:00") for n in range(450)]
    stats, close = run(events, recorder, speed=speed, batch_max=200)
    close()
    assert recorder.time.sleeps == []
    assert [len(ids(b)) for b in recorder.sent] == [200, 200, 50]
    assert stats.accepted == 450


def test_one_moment_is_split_at_batch_max(recorder: Recorder) -> None:
    events = [order(n, "08:00:00") for n in range(7)] + [order(7, "08:00:30")]
    stats, close = run(events, recorder, speed=30.0, batch_max=3)
    close()
    assert [len(ids(b)) for b in recorder.sent] == [3, 3, 1, 1]
    assert [t for t, _ in recorder.sent] == pytest.approx([0.0, 0.0, 0.0, 1.0])
    assert stats.batches == 4


def test_start_catches_up_then_paces_and_until_stops(recorder: Recorder) -> None:
    events = [
        order(1, "06:00:00"),
        order(2, "07:30:00"),
        order(3, "08:00:00"),
        order(4, "08:02:00"),
        order(5, "08:05:00"),
    ]
    stats, close = run(events, recorder, speed=60.0, start="08:00", until="08:04")
    close()
    # Before 08:00 goes at once (with the event at 08:00); 08:02 is 2 s later; 08:05 never.
    assert [ids(b) for b in recorder.sent] == [["order-1", "order-2", "order-3"], ["order-4"]]
    assert [t for t, _ in recorder.sent] == pytest.approx([0.0, 2.0])
    assert stats.skipped == 1
    assert stats.sent == 4
    assert stats.last_time == "2026-03-02T08:02:00"


def test_a_bare_clock_time_means_the_first_service_day(recorder: Recorder) -> None:
    # Orders placed the day before; the first vehicle event is on the 2nd.
    day_before = {**order(1, "10:00:00"), "time": "2026-03-01T10:00:00"}
    duty = {
        "event_id": "duty-1",
        "type": "driver_status",
        "time": "2026-03-02T07:00:00",
        "vehicle_id": "v1",
        "status": "on_duty",
    }
    stats, close = run([day_before, duty, order(2, "09:00:00")], recorder, speed=0, until="08:00")
    close()
    assert stats.sent == 2
    assert stats.skipped == 1


def test_late_events_are_sent_in_their_order_without_waiting(recorder: Recorder) -> None:
    events = [order(1, "08:00:00"), order(2, "08:01:00"), order(3, "07:59:00")]
    stats, close = run(events, recorder, speed=60.0)
    close()
    assert [ids(b) for b in recorder.sent] == [["order-1"], ["order-2", "order-3"]]
    assert stats.sent == 3


# -- retries ------------------------------------------------------------------------------
def test_a_dropped_request_is_retried_with_the_same_ids(recorder: Recorder) -> None:
    recorder.fail = {1: "before"}
    events = [order(1, "08:00:00"), order(2, "08:01:00"), order(3, "08:02:00")]
    stats, close = run(events, recorder, speed=60.0, retry_wait_s=0.25)
    close()
    assert recorder.statuses == [200, "dropped", 200, 200]
    assert ids(recorder.sent[1]) == ids(recorder.sent[2]) == ["order-2"]
    assert stats.retries == 1
    assert stats.accepted == 3
    assert stats.duplicates == 0
    assert 0.25 in recorder.time.sleeps


def test_a_lost_response_is_retried_and_counted_as_duplicates(recorder: Recorder) -> None:
    # The server stored the batch but the answer never came: the retry is a duplicate.
    recorder.fail = {0: "after"}
    events = [order(1, "08:00:00"), order(2, "08:00:00")]
    stats, close = run(events, recorder, speed=60.0)
    close()
    assert recorder.statuses == ["lost", 200]
    assert ids(recorder.sent[0]) == ids(recorder.sent[1])
    assert stats.accepted == 0
    assert stats.duplicates == 2
    assert stats.retries == 1
    assert recorder.app_client.get("/health").json()["events"] == 2


def test_gives_up_after_the_retries_with_a_clear_error(recorder: Recorder) -> None:
    recorder.fail = dict.fromkeys(range(10), "before")
    with pytest.raises(ReplayError, match=r"after 4 attempts .*ConnectError.*running"):
        run([order(1, "08:00:00")], recorder, speed=0, retries=3, retry_wait_s=1.0)
    assert len(recorder.sent) == 4
    assert len({tuple(ids(b)) for b in recorder.sent}) == 1
    assert recorder.time.sleeps == [1.0, 2.0, 4.0]  # exponential backoff


def test_a_refused_request_is_not_retried(recorder: Recorder) -> None:
    with pytest.raises(ReplayError, match=r"HTTP 403.*token"):
        run([order(1, "08:00:00")], recorder, token="wrong", speed=0)
    assert len(recorder.sent) == 1


def test_invalid_events_stop_the_replay_naming_the_problem(recorder: Recorder) -> None:
    off_map = {**order(1, "08:00:00"), "lat": 40.0, "lon": -75.0}
    with pytest.raises(
        ReplayError, match=r"HTTP 422: event order-1 lat: lat/lon .* from the nearest road"
    ):
        run([off_map], recorder, speed=0)
    assert len(recorder.sent) == 1


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"speed": -1.0}, "speed"),
        ({"speed": math.nan}, "speed"),
        ({"batch_max": 0}, "batch_max"),
        ({"batch_max": 5001}, "batch_max"),
        ({"start": "noon"}, "start 'noon' is not a time"),
        ({"start": "09:00", "until": "08:00"}, "before start"),
    ],
)
def test_bad_arguments_are_replay_errors(recorder: Recorder, kw: dict, match: str) -> None:
    with pytest.raises(ReplayError, match=match):
        run([order(1, "08:00:00")], recorder, **kw)
    assert recorder.sent == []


def test_a_bad_event_time_names_the_event(recorder: Recorder) -> None:
    with pytest.raises(ReplayError, match=r"event 0 \(order-1\) has time 'yesterday'"):
        run([{**order(1, "08:00:00"), "time": "yesterday"}], recorder, speed=0)


# -- a recorded day -----------------------------------------------------------------------
def test_replayed_day_equals_the_local_fold_and_a_second_replay_is_duplicates(
    recorder: Recorder, recorded_day: list[dict]
) -> None:
    stats, close = run(recorded_day, recorder, speed=math.inf)
    assert stats.accepted == len(recorded_day)
    assert stats.duplicates == 0
    assert stats.batches == math.ceil(len(recorded_day) / 200)
    health = recorder.app_client.get("/health").json()
    assert health["events"] == len(recorded_day)
    assert health["state_digest"] == local_digest(recorded_day)
    again, close2 = run(recorded_day, recorder, speed=math.inf)
    close()
    close2()
    assert again.accepted == 0
    assert again.duplicates == len(recorded_day)
    assert recorder.app_client.get("/health").json()["state_digest"] == health["state_digest"]


def test_paced_day_with_a_lost_response_still_folds_to_the_same_state(
    recorder: Recorder, recorded_day: list[dict]
) -> None:
    recorder.fail = {3: "after", 10: "before"}
    stats, close = run(recorded_day, recorder, speed=600.0)
    close()
    assert stats.retries == 2
    assert ids(recorder.sent[3]) == ids(recorder.sent[4])
    assert ids(recorder.sent[10]) == ids(recorder.sent[11])
    assert stats.duplicates == len(ids(recorder.sent[3]))
    assert stats.accepted + stats.duplicates == len(recorded_day)
    assert recorder.app_client.get("/health").json()["state_digest"] == local_digest(recorded_day)
    # At 600x the replay lasts the days' event-time span from the first event that is
    # not an order (the default start: the orders placed before it come at once) / 600:
    # the retry waits were made up by sending what had fallen due meanwhile.
    service = next(e for e in recorded_day if e["type"] != "order_created")
    assert service is not recorded_day[0]  # orders are placed before the day starts
    first = dt.datetime.fromisoformat(service["time"])
    last = dt.datetime.fromisoformat(recorded_day[-1]["time"])
    assert stats.elapsed_s == pytest.approx((last - first).total_seconds() / 600.0)


def test_each_request_reports_progress(recorder: Recorder, recorded_day: list[dict]) -> None:
    calls: list[tuple[int, int, str]] = []
    stats, close = run(recorded_day, recorder, speed=math.inf, on_batch=lambda *c: calls.append(c))
    close()
    assert len(calls) == stats.batches
    assert [done for done, _, _ in calls] == sorted({done for done, _, _ in calls})
    assert calls[-1] == (len(recorded_day), len(recorded_day), recorded_day[-1]["time"])


# -- loading ------------------------------------------------------------------------------
def test_a_history_folder_gives_the_same_events_as_its_scenario(
    tmp_path: Path, recorded_day: list[dict]
) -> None:
    scenario = load_scenario(SCENARIO)
    network = load_network(scenario.map.ref, network_type=scenario.map.network_type)
    folder = write_history(history_from_result(Simulation(scenario, network).run()), tmp_path)
    from_folder = load_recorded_day(folder)
    assert [e["event_id"] for e in from_folder] == [e["event_id"] for e in recorded_day]
    assert [e["time"] for e in from_folder] == [e["time"] for e in recorded_day]
    assert from_folder[0]["type"] == "order_created"


def test_loading_something_else_is_a_replay_error(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="does not exist"):
        load_recorded_day(tmp_path / "missing")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ReplayError, match="neither a history folder nor a scenario"):
        load_recorded_day(text)
