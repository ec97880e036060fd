"""Many simulated devices, each with its own MQTT connection, served by one thread.

A selector serves every device's socket, speaking MQTT 5 through :mod:`vigil.bus.mqtt_packets`. (A thread per
connection, 50 threads taking turns at the GIL for every PUBACK, cost a fleet most of a core at 5,000 events/s:
more than the server it loads.) Each device publishes its events at QoS 1 on its own topics and subscribes to its
``ack`` topic; an event is done when the command centre's ``ack`` names it, which the server sends only after
the commit: publish → broker → server → commit → ack → broker → device.

Unpaced, each device keeps up to ``window`` events unacknowledged and publishes one more for each id an ack
names, as a device's uplink drains its outbox while the link is good: the fleet then goes as fast as the server
commits. Paced, the devices publish in turn at a fixed rate for the whole fleet, whether or not acks have come
back, up to ``window`` unacknowledged per device (beyond that an event is counted as *behind* and not sent).

Like a body camera's uplink, a device keeps each event until its ack: it sends it again after ``resend_after_s``
without one (the broker may have handed it to a server that then went away), and when its connection is lost it
connects again with back-off (1 s doubling to 30 s), keeping what it makes meanwhile, and sends everything
unacknowledged at once on the new connection (a copy the server already has is acknowledged as a duplicate). A
broker restart or a server leaving the group therefore delays events and loses none.

``vigil sim load`` and ``vigil bench ingest`` both drive it.
"""

import contextlib
import json
import logging
import selectors
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from vigil.bus.mqtt_packets import (
    Connack,
    PacketReader,
    Publish,
    Suback,
    encode_connect,
    encode_disconnect,
    encode_puback,
    encode_publish,
    encode_subscribe,
    reason_text,
)
from vigil.events import TOPIC_ROOT
from vigil.sim.errors import ServerUnreachable

_log = logging.getLogger(__name__)

RESEND_AFTER_S = 20.0
"""A device sends an event again when no ack came this long after it sent it, seconds (as the edge uplink does)."""

_FIRST_RETRY_S = 1.0
_MAX_RETRY_S = 30.0
_RECONNECT_TIMEOUT_S = 5.0

EncodedEvent = tuple[str, str, bytes]
"""(event id, MQTT topic, JSON payload) of an event ready to publish."""


@dataclass(frozen=True)
class FleetDevice:
    """A device of the fleet.

    Attributes:
        device_id: its id; with a password, also its MQTT user name and client id (as the broker's ACL wants).
        events: its events, ready to publish, endless.
        password: its broker password (the device token); None for a broker that lets anyone in.
    """

    device_id: str
    events: Iterator[EncodedEvent]
    password: str | None = None


class MqttDevice:
    """One simulated device: its connection (a non-blocking socket, None while lost) and its unacknowledged events."""

    def __init__(
        self, device: FleetDevice, sock: socket.socket, *, window: int, resend_after_s: float = RESEND_AFTER_S
    ) -> None:
        self.device = device
        self.device_id = device.device_id
        self.sock: socket.socket | None = sock
        self.reader = PacketReader()
        self.out = bytearray()  # what the socket did not take at once
        self._events = device.events
        self._window = window
        self._resend_after_s = resend_after_s
        self._next_packet_id = 0
        self.sent: dict[str, float] = {}
        """Event id → when it was first published (monotonic seconds), until its ack arrives."""
        self._unacked: dict[str, tuple[str, bytes]] = {}
        """Event id → (topic, payload), until its ack arrives: the device's outbox."""
        self._last_sent: dict[str, float] = {}
        """Event id → when it was last sent, oldest first (a resend moves it to the end)."""
        self.published = 0
        self.behind = 0
        self.acknowledged = 0
        self.resent = 0
        self.reconnects = 0
        self.retry_at = 0.0
        """While disconnected: when to try connecting again (monotonic seconds)."""
        self.retry_s = _FIRST_RETRY_S

    def publish(self, *, paced: bool) -> bool:
        """Publish the next event unless ``window`` are unacknowledged (then, paced, it counts as behind).

        While disconnected the event is kept, and sent on the next connection.
        """
        if len(self.sent) >= self._window:
            self.behind += paced
            return False
        event_id, topic, payload = next(self._events)
        now = time.monotonic()
        self.sent[event_id] = now
        self._unacked[event_id] = (topic, payload)
        self._last_sent[event_id] = now
        self.published += 1
        if self.sock is not None:
            self._send_event(topic, payload)
        return True

    def resend_due(self, now: float) -> None:
        """Send again every event unacknowledged ``resend_after_s`` after it was last sent (connected only)."""
        if self.sock is None:
            return
        for event_id, sent_at in list(self._last_sent.items()):
            if now - sent_at < self._resend_after_s:
                return  # oldest first: the rest were sent later
            self._resend(event_id, now)

    def resend_all(self, now: float) -> None:
        """Send every unacknowledged event again (on a new connection: the old one may have lost them)."""
        for event_id in list(self._last_sent):
            self._resend(event_id, now)

    def send(self, data: bytes) -> None:
        """Send ``data``, keeping what the socket does not take at once for :meth:`flush`."""
        if self.sock is None:
            return
        if not self.out:
            # Full (BlockingIOError) or broken: kept, and flush() sends it later or finds the connection lost.
            with contextlib.suppress(OSError):
                data = data[self.sock.send(data) :]
        self.out += data

    def flush(self) -> None:
        """Send what is waiting, as far as the socket takes it.

        Raises:
            OSError: the connection is broken.
        """
        if self.out and self.sock is not None:
            try:
                del self.out[: self.sock.send(self.out)]
            except BlockingIOError:
                return

    def acknowledged_ids(self, ids: list[str], now: float, latencies: list[tuple[float, float]]) -> None:
        """Forget the acknowledged events, recording (published, ``now``) for each one this device sent."""
        for event_id in ids:
            published = self.sent.pop(event_id, None)
            self._unacked.pop(event_id, None)
            self._last_sent.pop(event_id, None)
            if published is not None:
                self.acknowledged += 1
                latencies.append((published, now))

    def _resend(self, event_id: str, now: float) -> None:
        del self._last_sent[event_id]
        self._last_sent[event_id] = now
        self.resent += 1
        self._send_event(*self._unacked[event_id])

    def _send_event(self, topic: str, payload: bytes) -> None:
        self._next_packet_id = self._next_packet_id % 65_535 + 1
        self.send(encode_publish(topic=topic, payload=payload, qos=1, packet_id=self._next_packet_id, dup=False))


def connect_device(host: str, port: int, device: FleetDevice, *, timeout_s: float = 30.0) -> socket.socket:
    """A device's connection, subscribed to its acks (blocking until the broker confirmed both).

    Raises:
        ServerUnreachable: the broker cannot be reached, or refuses the device or its subscription.
    """
    try:
        sock = socket.create_connection((host, port), timeout=timeout_s)
    except OSError as exc:
        raise ServerUnreachable(f"the broker at {host}:{port} cannot be reached ({exc})") from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with_login = device.password is not None
    try:
        sock.sendall(
            encode_connect(
                client_id=device.device_id if with_login else f"sim-{device.device_id}-{uuid.uuid4().hex[:6]}",
                clean_start=True,
                keepalive_s=0,
                session_expiry_s=0,
                receive_maximum=65_535,
                username=device.device_id if with_login else None,
                password=device.password,
            )
        )
        sock.sendall(
            encode_subscribe(
                packet_id=1, topic_filter=f"{TOPIC_ROOT}/{device.device_id}/down/ack", qos=1, subscription_id=1
            )
        )
        reader = PacketReader()
        answers: list[object] = []
        while len(answers) < 2 and not _refused(answers):
            data = sock.recv(4096)
            if not data:
                break
            answers += reader.feed(data)
    except OSError as exc:
        sock.close()
        raise ServerUnreachable(f"the broker at {host}:{port} dropped {device.device_id} ({exc})") from exc
    connack = answers[0] if answers else None
    if not isinstance(connack, Connack) or connack.reason_code:
        sock.close()
        reason = reason_text(connack.reason_code) if isinstance(connack, Connack) else "it closed the connection"
        raise ServerUnreachable(
            f"the broker refused {device.device_id}: {reason}; a broker that checks passwords must know the "
            "device first (`vigil devices broker-config`, then reload the broker)"
        )
    suback = answers[1] if len(answers) > 1 else None
    if not isinstance(suback, Suback) or any(code >= 0x80 for code in suback.reason_codes):
        sock.close()
        raise ServerUnreachable(f"the broker refused {device.device_id}'s subscription to its acks: {suback}")
    sock.setblocking(False)
    return sock


def _refused(answers: list[object]) -> bool:
    return bool(answers) and isinstance(answers[0], Connack) and answers[0].reason_code != 0


class MqttFleet:
    """Every device's connection, served by one thread: publish what is due, read what came back."""

    def __init__(
        self,
        host: str,
        port: int,
        devices: Sequence[FleetDevice],
        *,
        rate: float | None,
        window: int,
        resend_after_s: float = RESEND_AFTER_S,
    ) -> None:
        """Connect every device (one after another).

        Args:
            host: the broker.
            port: its port.
            devices: the devices.
            rate: events per second from the whole fleet, evenly paced; None: as fast as acked.
            window: events each device may leave unacknowledged.
            resend_after_s: a device sends an event again when no ack came this long after it sent it, seconds.

        Raises:
            ServerUnreachable: the broker cannot be reached, or refuses a device (at the start; later losses are
                repaired with back-off).
        """
        self._host, self._port = host, port
        self.rate = rate
        self.latencies: list[tuple[float, float]] = []
        """(published, acknowledged) of every acknowledged event, monotonic seconds."""
        self.devices: list[MqttDevice] = []
        self.selector = selectors.DefaultSelector()
        try:
            for device in devices:
                sock = connect_device(host, port, device)
                connected = MqttDevice(device, sock, window=window, resend_after_s=resend_after_s)
                self.devices.append(connected)
                self.selector.register(sock, selectors.EVENT_READ, connected)
        except BaseException:
            self.close()
            raise
        self.stopping = False
        """Set to stop publishing (acks are still read): the fleet then drains."""
        self._paced_from: float | None = None
        self._paced_sent = 0

    @property
    def in_flight(self) -> int:
        """Events published and not yet acknowledged."""
        return sum(len(device.sent) for device in self.devices)

    @property
    def published(self) -> int:
        """Events published."""
        return sum(device.published for device in self.devices)

    @property
    def acknowledged(self) -> int:
        """Events acknowledged."""
        return sum(device.acknowledged for device in self.devices)

    @property
    def behind(self) -> int:
        """Paced: events not published on time because the device's window was full."""
        return sum(device.behind for device in self.devices)

    @property
    def resent(self) -> int:
        """Events sent again: unacknowledged after the resend interval, or on a new connection."""
        return sum(device.resent for device in self.devices)

    @property
    def reconnects(self) -> int:
        """Connections made again after a loss."""
        return sum(device.reconnects for device in self.devices)

    def start(self, now: float) -> None:
        """Begin: paced, count from ``now`` (monotonic); unpaced, fill every device's window."""
        if self.rate is not None:
            self._paced_from = now
        else:
            for device in self.devices:
                while device.publish(paced=False):
                    pass

    def run_until(self, deadline: float) -> None:
        """Publish what is due, resend what is overdue, reconnect lost devices and handle what arrives.

        Runs until ``deadline`` (monotonic seconds).
        """
        while (left := deadline - time.monotonic()) > 0:
            self._publish_due()
            for key, _ in self.selector.select(min(left, 0.002)):
                self._read(key.data)
            now = time.monotonic()
            for device in self.devices:
                if device.sock is None:
                    if now >= device.retry_at:
                        self._reconnect(device)
                    continue
                device.resend_due(now)
                try:
                    device.flush()
                except OSError as exc:
                    self._lost(device, str(exc))

    def close(self) -> None:
        """Disconnect every device."""
        for device in self.devices:
            if device.sock is None:
                continue
            with contextlib.suppress(OSError):
                device.sock.sendall(encode_disconnect())
            device.sock.close()
        self.selector.close()

    def _lost(self, device: MqttDevice, reason: str) -> None:
        """Forget a device's broken connection; it connects again after its back-off."""
        if device.sock is None:
            return
        self.selector.unregister(device.sock)
        device.sock.close()
        device.sock = None
        device.out.clear()
        device.reader = PacketReader()
        device.retry_at = time.monotonic() + device.retry_s
        _log.warning(
            "load.device_disconnected",
            extra={"device_id": device.device_id, "reason": reason, "retry_in_s": device.retry_s},
        )

    def _reconnect(self, device: MqttDevice) -> None:
        try:
            sock = connect_device(self._host, self._port, device.device, timeout_s=_RECONNECT_TIMEOUT_S)
        except ServerUnreachable as exc:
            device.retry_s = min(device.retry_s * 2, _MAX_RETRY_S)
            device.retry_at = time.monotonic() + device.retry_s
            _log.warning(
                "load.device_reconnect_failed",
                extra={"device_id": device.device_id, "reason": str(exc), "retry_in_s": device.retry_s},
            )
            return
        device.sock = sock
        device.retry_s = _FIRST_RETRY_S
        device.reconnects += 1
        self.selector.register(sock, selectors.EVENT_READ, device)
        device.resend_all(time.monotonic())

    def _publish_due(self) -> None:
        if self._paced_from is None or self.stopping or self.rate is None:
            return
        # Event k is due k / rate seconds after the start: the first at once.
        due = int((time.monotonic() - self._paced_from) * self.rate) + 1
        while self._paced_sent < due:
            self.devices[self._paced_sent % len(self.devices)].publish(paced=True)
            self._paced_sent += 1

    def _read(self, device: MqttDevice) -> None:
        if device.sock is None:
            return
        try:
            data = device.sock.recv(256 * 1024)
        except BlockingIOError:
            return
        except OSError as exc:
            self._lost(device, f"the broker dropped the connection ({exc})")
            return
        if not data:
            self._lost(device, "the broker closed the connection")
            return
        now = time.monotonic()
        for packet in device.reader.feed(data):
            if isinstance(packet, Publish):  # an ack from the command centre
                device.acknowledged_ids(json.loads(packet.payload).get("ids", []), now, self.latencies)
                if packet.qos:
                    device.send(encode_puback(packet.packet_id))
        if self.rate is None and not self.stopping:
            while device.publish(paced=False):
                pass
