"""The live feed over a real WebSocket: live entries, resuming without gaps, throttled positions, late commits."""

import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.command.conftest import Account, Register, RunningServer
from tests.command.events import alert, device_status, dispatch_status, position, send_watchlist
from tests.command.feed.conftest import FeedClient, ServeLive
from vigil.command.app import create_app
from vigil.command.database import Database
from vigil.command.devices.schemas import DeviceStatusReported
from vigil.command.feed.service import FeedKind, append_entry
from vigil.command.settings import CommandSettings, FeedSettings
from vigil.events import Event, encode_event, utc_now

OpenFeed = Callable[..., FeedClient]


def _post(server: RunningServer, token: str, events: list[Event]) -> None:
    body = b"[" + b",".join(encode_event(e) for e in events) + b"]"
    with server.client(token) as client:
        response = client.post("/api/v1/events", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(events), response.text


def _catch_up(server: RunningServer, operator: Account, after: int = 0, limit: int = 3) -> list[dict[str, Any]]:
    """Every entry after ``after`` over HTTP, a page of ``limit`` at a time."""
    entries: list[dict[str, Any]] = []
    with server.client(server.sign_in(operator)) as client:
        while True:
            page = client.get("/api/v1/feed", params={"after": after, "limit": limit}).json()
            entries += page["entries"]
            after = page["next_after"]
            if len(page["entries"]) < limit:
                return entries


def _with_feed(settings: CommandSettings, **feed: float) -> CommandSettings:
    return settings.model_copy(update={"feed": FeedSettings(**feed)})


def test_a_screen_gets_entries_live_and_after_a_reconnect_every_missed_one_once_in_order(
    serve_live: ServeLive,
    settings: CommandSettings,
    register: Register,
    database: Database,
    probe_jpeg: bytes,
    feed_clients: OpenFeed,
    feed_operator: Account,
) -> None:
    token = register("cam-1", "A-12")
    send_watchlist(database, "cam-1")
    server = serve_live(create_app(_with_feed(settings, position_interval_s=0)))
    screen = feed_clients(server)
    raised = alert(probe_jpeg)
    _post(server, token, [raised, position(), device_status(), dispatch_status()])
    live = screen.receive(4)
    assert [m["kind"] for m in live] == ["alert.raised", "unit.position", "device.status", "dispatch.status"]
    assert live[0]["payload"]["alert_id"] == str(raised.alert_id)
    assert "probe_jpeg" not in live[0]["payload"]  # the face crop has its own URL
    screen.close()

    missed = [position(lat=51.51), alert(probe_jpeg), device_status(battery_pct=50.0), alert(probe_jpeg)]
    _post(server, token, missed[:3])
    _post(server, token, missed[3:])
    resumed = feed_clients(server, after=live[-1]["seq"])
    caught_up = resumed.receive(4)
    assert [m["seq"] for m in caught_up] == list(range(live[-1]["seq"] + 1, live[-1]["seq"] + 5))
    assert [m["payload"]["event_id"] for m in caught_up] == [str(e.id) for e in missed]
    assert resumed.receive_for(0.5) == []  # nothing twice

    new = position(lat=51.53)
    _post(server, token, [new])
    (latest,) = resumed.receive(1)
    assert (latest["seq"], latest["payload"]["event_id"]) == (caught_up[-1]["seq"] + 1, str(new.id))
    # Over HTTP, paged: the same entries, in the same order and shape.
    registered, *rest = _catch_up(server, feed_operator)
    assert (registered["kind"], registered["payload"]["unit_id"]) == ("unit.changed", "A-12")  # before the screen
    assert rest == [*live, *caught_up, latest]


def test_a_burst_of_positions_is_throttled_per_unit_and_the_alerts_in_it_are_not(
    serve_live: ServeLive,
    settings: CommandSettings,
    register: Register,
    database: Database,
    probe_jpeg: bytes,
    feed_clients: OpenFeed,
) -> None:
    token = register("cam-1", "A-12")
    send_watchlist(database, "cam-1")
    server = serve_live(create_app(_with_feed(settings, position_interval_s=1.0)))
    screen = feed_clients(server)
    start = utc_now() - timedelta(seconds=60)
    burst: list[Event] = []
    for n in range(50):
        burst.append(position(lat=51.5 + n / 1000, at=start + timedelta(seconds=n)))
        if n % 10 == 9:
            burst.append(alert(probe_jpeg))
    began = time.monotonic()
    for first in range(0, len(burst), 20):
        _post(server, token, burst[first : first + 20])
    last_position = [e for e in burst if e.type == "position"][-1]
    wanted = {str(e.id) for e in burst if e.type == "alert.raised"} | {str(last_position.id)}

    def all_wanted_arrived(message: dict[str, Any]) -> bool:
        wanted.discard(message["payload"]["event_id"])
        return not wanted

    got = screen.receive_until(all_wanted_arrived, timeout_s=15.0)
    took = time.monotonic() - began
    alerts = [m for m in got if m["kind"] == "alert.raised"]
    positions = [m for m in got if m["kind"] == "unit.position"]
    assert [m["payload"]["event_id"] for m in alerts] == [str(e.id) for e in burst if e.type == "alert.raised"]
    assert positions[-1]["payload"]["event_id"] == str(last_position.id)  # the latest wins
    # The first goes out at once, then at most one a second, however long posting the burst took.
    assert 2 <= len(positions) <= 2 + int(took / 1.0), (len(positions), took)
    assert [p["seq"] for p in positions] == sorted(p["seq"] for p in positions)
    for at, message in enumerate(got):  # alerts never wait: nothing later in the feed is sent before one
        if message["kind"] == "alert.raised":
            assert all(m["seq"] < message["seq"] for m in got[:at]), (at, [m["seq"] for m in got])


def test_a_screen_on_one_server_sees_what_another_server_committed(
    serve_live: ServeLive, settings: CommandSettings, register: Register, feed_clients: OpenFeed
) -> None:
    token = register("cam-1", "A-12")
    watching = serve_live(create_app(_with_feed(settings, position_interval_s=0, poll_s=0.1)))
    ingesting = serve_live(create_app(settings))
    screen = feed_clients(watching)
    events: list[Event] = [position(lat=51.5 + n / 1000) for n in range(3)]
    _post(ingesting, token, events)
    assert [m["payload"]["event_id"] for m in screen.receive(3)] == [str(e.id) for e in events]


def _status_entry(battery_pct: float) -> DeviceStatusReported:
    return DeviceStatusReported(
        event_id=uuid.uuid4(),
        device_id="cam-1",
        unit_id="A-12",
        at=utc_now(),
        battery_pct=battery_pct,
        free_storage_mb=None,
        watchlist_version=None,
        faces_processed=0,
        last_error=None,
    )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_entry_committed_after_one_with_a_larger_seq_is_delivered_first(
    serve_live: ServeLive,
    settings: CommandSettings,
    database: Database,
    feed_clients: OpenFeed,
) -> None:
    server = serve_live(create_app(_with_feed(settings, poll_s=0.05)))
    screen = feed_clients(server)
    with database.session() as early, database.session() as late:
        append_entry(session=early, kind=FeedKind.DEVICE_STATUS, payload=_status_entry(10.0), now=utc_now())
        early.flush()  # draws the smaller seq, not committed yet
        append_entry(session=late, kind=FeedKind.DEVICE_STATUS, payload=_status_entry(20.0), now=utc_now())
        late.commit()  # the larger seq commits first
        assert screen.receive_for(1.0) == []  # not past the open transaction's row
        started = time.monotonic()
        early.commit()
    got = screen.receive(2)
    assert [m["payload"]["battery_pct"] for m in got] == [10.0, 20.0]
    assert got[1]["seq"] == got[0]["seq"] + 1
    assert time.monotonic() - started < 2.0
