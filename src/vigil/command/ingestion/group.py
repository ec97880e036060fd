"""The servers' share group: each server's MQTT session, its presence, and the members that left without leaving.

Servers share the devices' events through one MQTT shared subscription (:mod:`.subscriber`). A member of it is a
*session*, not a connection: the broker (Mosquitto 2.0) keeps giving a member whose connection is gone its turn,
and queues those events for it, until its session expires. With a day's expiry, a server stopped without
ending its session stranded half the stream for a day while the live server said nothing. So:

* **A short session** (:data:`SERVER_SESSION_EXPIRY_S`, 30 s unless ``session_expiry_s`` is set): long enough for
  a restart under the same client id to find its session, and its queued events, again; short enough that a
  server that never comes back gives its share up on its own. The events the broker queued for it are then
  dropped, and nothing is lost: a device keeps each event until the server's ack and sends it again after its
  resend interval (``resend_after_s``, 20 s), and the broker hands the copy to a live member. Every event is
  therefore stored within *session expiry + resend interval* (50 s) of the server's connection ending (the broker
  notices a dead host's connection after one and a half keep-alives, 45 s; a killed process's at once).
* **A normal stop ends the session** (``end_session_on_stop``: DISCONNECT with session expiry 0, which MQTT 5
  allows when the CONNECT's was not 0): the broker gives its share to the others at once. What it held unacked
  is sent again by the devices after their resend interval.
* **Presence.** Each server publishes ``online`` to ``vigil/v1/servers/<client id>/presence`` when it connects and
  every :data:`HEARTBEAT_S`, and registers a will (:func:`server_session`) with which the broker publishes ``gone``
  there the moment its connection ends without DISCONNECT; a normal stop publishes ``stopped``. (Not retained:
  Vigil's broker refuses retained messages, which would stay in its memory for good.) Every server reads the
  others' (:class:`ShareGroupWatch`). A member that is ``gone``, or whose heartbeat stopped without a word (a will
  this server missed), holds a share until its session expires: it is logged as a warning
  (``ingestion.group_member_stale``, with its client id and since when), counted in ``GET /api/v1/metrics``
  (``ingestion.share_group``), and a member whose session outlives this server's, and so strands events longer
  than the bound above, is named too (``ingestion.group_member_expiry_long``). A server that starts after another
  went away learns of it only from its silence: it was never heard.

The watch is MQTT's: sessions and wills are the broker's. A server on the in-memory bus is alone.
"""

import enum
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vigil.bus.errors import BusError
from vigil.bus.mqtt import MqttBus
from vigil.bus.mqtt_settings import MqttSettings, MqttWill
from vigil.bus.protocol import Message
from vigil.events import utc_now

_log = logging.getLogger(__name__)

PRESENCE_ROOT = "vigil/v1/servers"
"""Servers' own topics: ``<root>/<client id>/presence`` (the broker's ACL lets only server users at them)."""

PRESENCE_TOPICS = f"{PRESENCE_ROOT}/+/presence"

SERVER_SESSION_EXPIRY_S = 30
"""A server's MQTT session expiry unless its settings give one, seconds (see the module docstring)."""

DEVICE_RESEND_S = 20
"""A device sends an unacknowledged event again after this long, seconds (the edge uplink's ``resend_after_s``)."""

HEARTBEAT_S = 10
"""A server says ``online`` this often, seconds; one unheard for :data:`SILENT_AFTER_S` is counted as gone."""

SILENT_AFTER_S = 3 * HEARTBEAT_S

STOPPED_KEPT_S = 3600
"""How long a stopped server stays in the report, seconds."""

_TICK_S = 0.5


class PresenceState(enum.StrEnum):
    """What a server's presence says."""

    ONLINE = "online"
    GONE = "gone"
    STOPPED = "stopped"


class Presence(BaseModel):
    """A server's presence message (JSON)."""

    model_config = ConfigDict(frozen=True)

    client_id: str = Field(min_length=1, max_length=128)
    state: PresenceState
    session_expiry_s: int = Field(ge=0, le=2**32 - 1, description="Its MQTT session expiry, seconds.")


class GroupMember(BaseModel):
    """Another server of the share group, as this server sees it."""

    client_id: str
    state: Literal["online", "stopped", "stale"] = Field(
        description="stale: its connection ended without it leaving (its will, or its heartbeat stopped); the "
        "broker still gives it a share of the events, and holds them, until its session expires."
    )
    since: datetime = Field(description="When this server learnt of that state (UTC).")
    last_heard: datetime = Field(description="When this server last heard from it (UTC).")
    session_expiry_s: int = Field(description="How long the broker keeps its session once its connection ends, s.")
    holds_share_until: datetime | None = Field(
        description="Stale: when its session ends at the latest, and its share goes to the live servers (UTC)."
    )
    expiry_over_bound: bool = Field(
        description="Its session expiry is longer than this server's: stopped without leaving, it strands events "
        "for longer than the group's bound."
    )


class ShareGroupStatus(BaseModel):
    """The share group as this server sees it (``GET /api/v1/metrics``, ``ingestion.share_group``)."""

    client_id: str = Field(description="This server's MQTT client id.")
    session_expiry_s: int = Field(description="This server's MQTT session expiry, seconds.")
    bound_s: int = Field(
        description="How long a server that stops without leaving keeps events from being stored, at most: its "
        "session expiry plus the devices' resend interval, seconds."
    )
    stale: int = Field(description="Members holding a share of the events while away.")
    members: list[GroupMember] = Field(description="The other servers heard from, stale ones first.")


def presence_topic(client_id: str) -> str:
    """A server's presence topic (its client id escaped, so that ``/``, ``+`` or ``#`` in it are one level)."""
    return f"{PRESENCE_ROOT}/{quote(client_id, safe='')}/presence"


def session_expiry(settings: MqttSettings) -> int:
    """A server's session expiry: the one its settings give, else :data:`SERVER_SESSION_EXPIRY_S`, seconds."""
    return settings.session_expiry_s if "session_expiry_s" in settings.model_fields_set else SERVER_SESSION_EXPIRY_S


def server_session(settings: MqttSettings) -> MqttSettings:
    """The settings a server connects with: its session expiry, ended on a normal stop, and its presence will.

    The will (``gone``) is offered for as long as the session outlives the connection: no longer news after.
    """
    expiry = session_expiry(settings)
    gone = Presence(client_id=settings.client_id, state=PresenceState.GONE, session_expiry_s=expiry)
    will = MqttWill(
        topic=presence_topic(settings.client_id),
        payload=gone.model_dump_json().encode(),
        message_expiry_s=max(expiry, 1),
    )
    return settings.model_copy(update={"session_expiry_s": expiry, "end_session_on_stop": True, "will": will})


@dataclass
class _Member:
    state: Literal["online", "stopped", "stale"]
    since: datetime
    last_heard: datetime
    session_expiry_s: int
    until: datetime | None = None


class ShareGroupWatch:
    """Announces this server and watches the other members of its share group (see the module docstring)."""

    def __init__(self, *, bus: MqttBus, settings: MqttSettings, clock: Callable[[], datetime] = utc_now) -> None:
        """Read the others' presence, announce this server (``online``), and keep both up on a thread.

        Args:
            bus: this server's bus, connected with :func:`server_session`'s settings.
            settings: those settings.
            clock: the time now (UTC).

        Raises:
            BusError: the presence could not be subscribed to.
        """
        self._bus = bus
        self._client_id = settings.client_id
        self._expiry_s = settings.session_expiry_s
        self._clock = clock
        self._lock = threading.Lock()
        self._members: dict[str, _Member] = {}
        self._stopping = threading.Event()
        self._announced: tuple[int, datetime] | None = None  # (connection epoch, when)
        bus.subscribe(PRESENCE_TOPICS, self._on_presence)
        self._announce()
        self._thread = threading.Thread(target=self._run, name="share group", daemon=True)
        self._thread.start()

    def status(self) -> ShareGroupStatus:
        """The group now: this server's session and the other members, stale ones first."""
        with self._lock:
            self._review(self._clock())
            members = [
                GroupMember(
                    client_id=client_id,
                    state=member.state,
                    since=member.since,
                    last_heard=member.last_heard,
                    session_expiry_s=member.session_expiry_s,
                    holds_share_until=member.until,
                    expiry_over_bound=member.session_expiry_s > self._expiry_s,
                )
                for client_id, member in self._members.items()
            ]
        members.sort(key=lambda m: (m.state != "stale", m.client_id))
        return ShareGroupStatus(
            client_id=self._client_id,
            session_expiry_s=self._expiry_s,
            bound_s=self._expiry_s + DEVICE_RESEND_S,
            stale=sum(m.state == "stale" for m in members),
            members=members,
        )

    def close(self) -> None:
        """Stop watching and announce ``stopped`` (before the bus is stopped, which then ends the session)."""
        self._stopping.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(5)
        try:
            self._publish(PresenceState.STOPPED)
        except BusError as exc:
            # Lost now, the will says "gone" instead; the DISCONNECT that follows has ended the session anyway.
            _log.warning("ingestion.group_leave_unannounced", extra={"client_id": self._client_id, "reason": str(exc)})

    def _run(self) -> None:
        while not self._stopping.wait(_TICK_S):
            now = self._clock()
            announced = self._announced
            due = announced is None or announced[0] != self._bus.epoch or now - announced[1] >= _HEARTBEAT
            if due and self._bus.connected:
                self._announce()
            with self._lock:
                self._review(now)

    def _announce(self) -> None:
        """Publish ``online`` (at start, on each new connection, every heartbeat)."""
        epoch, now = self._bus.epoch, self._clock()
        try:
            self._publish(PresenceState.ONLINE)
        except BusError as exc:
            _log.warning("ingestion.group_announce_failed", extra={"client_id": self._client_id, "reason": str(exc)})
            return
        self._announced = (epoch, now)

    def _publish(self, state: PresenceState) -> None:
        presence = Presence(client_id=self._client_id, state=state, session_expiry_s=self._expiry_s)
        # A presence is news for one heartbeat: the broker drops it rather than queue it for a session away.
        self._bus.publish_expiring(
            presence_topic(self._client_id), presence.model_dump_json().encode(), message_expiry_s=HEARTBEAT_S
        )

    def _on_presence(self, message: Message) -> None:
        try:
            presence = Presence.model_validate_json(message.payload)
        except ValidationError as exc:
            # Acknowledged and dropped: the same bytes would fail again, and only server users may publish here.
            _log.warning("ingestion.group_presence_unreadable", extra={"topic": message.topic, "reason": str(exc)})
            return
        if presence.client_id == self._client_id:
            return  # our own heartbeat, or the will of an earlier connection of ours, since replaced by this one
        now = self._clock()
        with self._lock:
            before = self._members.get(presence.client_id)
            member = _member(presence, before, now)
            if member is None:
                self._members.pop(presence.client_id, None)
            else:
                self._members[presence.client_id] = member
        self._report(presence.client_id, presence.session_expiry_s, before, member)

    def _report(self, client_id: str, expiry_s: int, before: _Member | None, member: _Member | None) -> None:
        facts = {"client_id": client_id, "session_expiry_s": expiry_s}
        if member is not None and member.state == "stale":
            if before is None or before.state != "stale":
                until = member.until.isoformat() if member.until else ""
                _log.warning(
                    "ingestion.group_member_stale",
                    extra={**facts, "since": member.since.isoformat(), "holds_share_until": until},
                )
        elif before is not None and before.state == "stale":
            _log.info("ingestion.group_member_back", extra={**facts, "state": member.state if member else "ended"})
        if expiry_s > self._expiry_s and (before is None or before.session_expiry_s != expiry_s):
            _log.warning(
                "ingestion.group_member_expiry_long",
                extra={
                    **facts,
                    "this_server_session_expiry_s": self._expiry_s,
                    "strands_events_up_to_s": expiry_s + DEVICE_RESEND_S,
                },
            )

    def _review(self, now: datetime) -> None:
        """Count silent members as gone; forget those whose session has ended and long-stopped ones (lock held)."""
        for client_id, member in list(self._members.items()):
            if member.state == "online" and now - member.last_heard >= _SILENT_AFTER:
                stale = _Member(
                    "stale",
                    member.last_heard,
                    member.last_heard,
                    member.session_expiry_s,
                    until=member.last_heard + _SILENT_AFTER + timedelta(seconds=member.session_expiry_s),
                )
                self._members[client_id] = stale
                self._report(client_id, member.session_expiry_s, member, stale)
            elif member.until is not None and member.until <= now:
                del self._members[client_id]
                _log.info(
                    "ingestion.group_member_expired",
                    extra={"client_id": client_id, "session_expiry_s": member.session_expiry_s},
                )
            elif member.state == "stopped" and now - member.since >= _STOPPED_KEPT:
                del self._members[client_id]


_HEARTBEAT = timedelta(seconds=HEARTBEAT_S)
_SILENT_AFTER = timedelta(seconds=SILENT_AFTER_S)
_STOPPED_KEPT = timedelta(seconds=STOPPED_KEPT_S)


def _member(presence: Presence, before: _Member | None, now: datetime) -> _Member | None:
    """What a presence message makes of a member; None when it no longer holds anything worth reporting."""
    expiry = presence.session_expiry_s
    match presence.state:
        case PresenceState.ONLINE:
            since = before.since if before is not None and before.state == "online" else now
            return _Member("online", since, now, expiry)
        case PresenceState.STOPPED:
            return _Member("stopped", now, now, expiry)
        case PresenceState.GONE:
            if expiry == 0:
                return None  # its session ended with its connection, and its share with it
            if before is not None and before.state == "stale":
                return before  # already counted from its silence
            return _Member(
                "stale", now, before.last_heard if before else now, expiry, until=now + timedelta(seconds=expiry)
            )
