"""One MQTT 5 client connection, kept up on an I/O thread of its own.

Why not paho-mqtt: at thousands of messages a second, paho reads each packet with several one-byte ``recv``
calls and sends each PUBACK on its own, and every such system call hands Python's GIL to the thread that
ingests, which holds it for up to the switch interval (5 ms). Here the I/O thread reads up to 256 KiB at a time
and parses every packet in it, and PUBACKs for a batch of messages go out in one system call.

* **Connecting.** :class:`MqttConnection` connects before its constructor returns, or raises
  (:class:`BusUnavailable` when the broker cannot be reached, :class:`BusRefused` at once when it refuses the
  credentials). Later losses are repaired on the I/O thread with back-off (1 s doubling to 30 s); each
  connection has a new *epoch*, and the subscriptions made so far are made again. A device, which must work
  where there is no signal, passes ``wait_for_broker=False``: a broker it cannot reach at start (down, no route,
  DNS failing) is then tried again on the I/O thread in the same way, and the constructor returns disconnected;
  a refusal or a certificate fault still raises at once, since only a person can fix those.
* **Sending**: on plaintext, a thread with something to send sends it itself when nothing is queued ahead of it
  (one system call, no hand-over); what the socket does not take at once is queued for the I/O thread.
* **TLS** (``settings.tls``, :mod:`vigil.bus.mqtt_tls`): the handshake is made within the connect timeout, and a
  certificate that is not trusted raises :class:`BrokerCertificateRejected` at once (on a reconnect it is logged
  as an error, and tried again with back-off until someone fixes it). An OpenSSL connection cannot be read on one
  thread while another writes to it, so every byte goes through the I/O thread: others queue and wake it. A
  non-blocking TLS socket may want to read when asked to write and the reverse (``SSLWantReadError``,
  ``SSLWantWriteError``), and holds data it has already decrypted (``pending()``), which ``select`` cannot see.
* **Publishing** (QoS 1) returns once the broker's PUBACK is back; a refusal in the PUBACK (reason ≥ 0x80,
  e.g. "not authorized") raises :class:`BusRefused`. No more messages are in flight than the broker's Receive
  Maximum allows. When the connection drops, every publish still waiting raises :class:`BusUnavailable` and is
  not sent again by the connection: the caller keeps the message and sends it again (event ids make a
  duplicate harmless).
* **Receiving.** Every PUBLISH read is handed to ``on_messages`` with the connection's epoch; the client's
  PUBACK is sent only when :meth:`acknowledge` is called with that epoch. An acknowledgement from an earlier
  epoch is dropped: the broker sends the message again on the new connection, under a packet identifier it may
  meanwhile have given to another message.
* **Keep-alive**: a PINGREQ when nothing was sent for the keep-alive interval; a connection that receives
  nothing for one and a half intervals is dropped and made again.
"""

import contextlib
import logging
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vigil.bus.errors import BusClosed, BusError, BusRefused, BusTlsFailed, BusUnavailable
from vigil.bus.mqtt_packets import (
    PINGREQ,
    Connack,
    Disconnect,
    Packet,
    PacketReader,
    Property,
    ProtocolViolation,
    Puback,
    Publish,
    Suback,
    Will,
    encode_connect,
    encode_disconnect,
    encode_puback,
    encode_publish,
    encode_subscribe,
    reason_text,
)
from vigil.bus.mqtt_settings import MqttSettings, MqttTlsSettings, MqttWill
from vigil.bus.mqtt_tls import client_context, handshake_failure

_log = logging.getLogger(__name__)

QOS = 1
_READ_BYTES = 256 * 1024
_TLS_WRITE_BYTES = 256 * 1024  # a TLS write that must be retried is retried with the same first bytes
_FIRST_RETRY_S = 1.0
_MAX_RETRY_S = 30.0

_WAITED, _UNWAITED = True, False

MessagesHandler = Callable[[list[Publish], int], None]
"""Receives the messages read together, and the epoch of the connection they came on."""


@dataclass
class _Session:
    """One TCP connection's state, from the CONNACK to its loss."""

    sock: socket.socket
    epoch: int
    send_quota: int
    last_sent: float
    last_received: float
    reader: PacketReader
    early: list[Packet]  # what came in the same read as the CONNACK (a resumed session's messages)


class MqttConnection:
    """An MQTT 5 client: see the module docstring."""

    def __init__(
        self,
        settings: MqttSettings,
        *,
        on_messages: MessagesHandler,
        name: str = "mqtt",
        wait_for_broker: bool = True,
    ) -> None:
        """Connect, then keep the connection up on a thread of its own.

        Args:
            settings: the broker and the session's parameters.
            on_messages: called on the I/O thread with every batch of messages read; it must not block.
            name: the I/O thread's name, for logs.
            wait_for_broker: True: a broker that cannot be reached now is an error. False: start disconnected
                and keep trying on the I/O thread (publishes raise :class:`BusUnavailable` until connected).

        Raises:
            BusUnavailable: (with ``wait_for_broker``) the broker could not be reached or did not answer in
                ``settings.connect_timeout_s``.
            BusRefused: the broker refused the connection (credentials, client id).
            BrokerCertificateRejected: the broker's certificate is not trusted (another CA, another name, expired).
            BusTlsFailed: the TLS handshake failed otherwise (a plaintext port, a client certificate refused).
            BusTlsFilesUnusable: the CA file, client certificate or key cannot be loaded.
        """
        self._settings = settings
        self._tls = client_context(settings.tls) if settings.tls is not None else None
        self._on_messages = on_messages
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._out = bytearray()
        self._wake_pending = False
        self._next_packet_id = 0
        self._in_flight: dict[int, bool] = {}  # our QoS 1 publishes not confirmed yet: is someone waiting?
        self._subscribing: set[int] = set()  # SUBSCRIBEs someone waits on
        self._outcomes: dict[int, int] = {}  # PUBACK / SUBACK reason codes, by packet id, until collected
        self._subscriptions: dict[int, str] = {}  # subscription identifier -> topic filter, made again on reconnect
        self._closed = False
        self._epoch = 0
        self._session: _Session | None = None
        try:
            self._session = self._connect()
        except BusUnavailable as exc:
            if wait_for_broker:
                raise
            _log.warning(
                "mqtt.starting_disconnected",
                extra={"broker": settings.address, "reason": str(exc), "retry_in_s": _FIRST_RETRY_S},
            )
        # Other threads write a byte here to wake the I/O thread when they have something to send.
        self._waker, self._wake_signal = socket.socketpair()
        self._waker.setblocking(False)
        self._wake_signal.setblocking(False)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up now."""
        return self._session is not None

    @property
    def epoch(self) -> int:
        """A number that changes whenever the connection is lost or made again."""
        return self._epoch

    def publish_many(
        self,
        messages: Sequence[tuple[str, bytes]],
        *,
        confirmed: bool = True,
        message_expiry_s: int | None = None,
    ) -> None:
        """Publish at QoS 1, all before any confirmation is awaited; returns once the broker confirmed each.

        Args:
            messages: ``(topic, payload)`` pairs.
            confirmed: False returns once the messages are sent, without waiting for the broker's confirmations
                (a refusal is then only logged): for messages whose loss the protocol above already covers.
            message_expiry_s: the broker drops them, undelivered, after this long, seconds; None: never.

        Raises:
            BusUnavailable: not connected, the connection dropped, or no confirmation within the timeout.
            BusRefused: the broker refused a message (its reason is in the message).
            BusClosed: :meth:`close` was called.
        """
        timeout_s = self._settings.publish_timeout_s
        deadline = time.monotonic() + timeout_s
        ids: list[int] = []
        with self._changed:
            session = self._usable_session()
            epoch = self._epoch
            try:
                packets = bytearray()  # sent together: one system call for the lot, as far as the quota allows
                for topic, payload in messages:
                    if len(self._in_flight) >= session.send_quota:
                        if packets:
                            self._send_locked(bytes(packets))
                            packets.clear()
                        self._changed.wait_for(
                            lambda: self._room_or_change(epoch), max(0.0, deadline - time.monotonic())
                        )
                        session = self._usable_session()
                        if self._epoch != epoch:
                            raise BusUnavailable("the MQTT connection dropped while publishing")
                        if len(self._in_flight) >= session.send_quota:
                            raise BusUnavailable(f"the broker did not confirm earlier messages in {timeout_s:g} s")
                    packet_id = self._new_packet_id()
                    self._in_flight[packet_id] = _WAITED if confirmed else _UNWAITED
                    if confirmed:
                        ids.append(packet_id)
                    packets += encode_publish(
                        topic=topic,
                        payload=payload,
                        qos=QOS,
                        packet_id=packet_id,
                        dup=False,
                        message_expiry_s=message_expiry_s,
                    )
                if packets:
                    self._send_locked(bytes(packets))
                if not confirmed:
                    return
                answered = self._changed.wait_for(
                    lambda: all(i in self._outcomes for i in ids) or self._epoch != epoch or self._closed,
                    max(0.0, deadline - time.monotonic()),
                )
                reasons = [self._outcomes.get(i) for i in ids]
            finally:
                self._forget(ids)
        refused = [reason for reason in reasons if reason is not None and reason >= 0x80]
        if refused:
            raise BusRefused(f"the broker refused the message: {reason_text(refused[0])}")
        if None not in reasons:
            return
        if self._closed:
            raise BusClosed("the bus has been stopped")
        if not answered:
            raise BusUnavailable(f"the broker did not confirm the message in {timeout_s:g} s")
        raise BusUnavailable("the MQTT connection dropped while publishing; the message was not confirmed")

    def subscribe(self, topic_filter: str, subscription_id: int) -> None:
        """Subscribe at QoS 1 and wait for the broker's SUBACK; the subscription is made again after a reconnect.

        Offline, it is only recorded, and made when the connection is back.

        Raises:
            BusUnavailable: no SUBACK within ``settings.connect_timeout_s``.
            BusRefused: the broker refused the subscription (ACL, a bad filter).
            BusClosed: :meth:`close` was called.
        """
        with self._changed:
            if self._closed:
                raise BusClosed("the bus has been stopped")
            self._subscriptions[subscription_id] = topic_filter
            if self._session is None:
                return
            packet_id = self._new_packet_id()
            self._subscribing.add(packet_id)
            epoch = self._epoch
            self._send_locked(
                encode_subscribe(
                    packet_id=packet_id, topic_filter=topic_filter, qos=QOS, subscription_id=subscription_id
                )
            )
            answered = self._changed.wait_for(
                lambda: packet_id in self._outcomes or self._epoch != epoch or self._closed,
                self._settings.connect_timeout_s,
            )
            reason = self._outcomes.pop(packet_id, None)
            self._subscribing.discard(packet_id)
        if reason is not None and reason >= 0x80:
            raise BusRefused(f"the broker refused the subscription to {topic_filter!r}: {reason_text(reason)}")
        if reason is None and answered and self._epoch != epoch:
            return  # the connection dropped; the subscription is made again on the next one
        if reason is None:
            raise BusUnavailable(f"the broker did not confirm the subscription to {topic_filter!r} in time")

    def acknowledge(self, epoch: int, packet_ids: Sequence[int]) -> None:
        """PUBACK received QoS 1 messages, if they came on the current connection (see the module docstring)."""
        if not packet_ids:
            return
        with self._lock:
            if epoch != self._epoch or self._session is None:
                return
            # Queued for the I/O thread rather than sent here: the PUBACKs of messages handled one after another
            # gather while it wakes, and leave in one system call.
            self._queue_locked(b"".join(encode_puback(packet_id) for packet_id in packet_ids))

    def close(self) -> None:
        """Disconnect normally (the broker keeps the session for its expiry interval) and stop the I/O thread."""
        with self._changed:
            if self._closed:
                return
            self._closed = True
            if self._session is not None:
                self._send_locked(encode_disconnect(session_expiry_s=0 if self._settings.end_session_on_stop else None))
            self._changed.notify_all()
        self._wake()
        if threading.current_thread() is not self._thread:
            self._thread.join(5)
        self._wake_signal.close()
        self._waker.close()

    # The I/O thread.

    def _run(self) -> None:
        delay = _FIRST_RETRY_S
        while not self._closed:
            session = self._session
            if session is None:
                with self._changed:
                    self._changed.wait_for(lambda: self._closed, delay)
                if self._closed:
                    break
                try:
                    session = self._connect()
                except BusError as exc:
                    # A certificate or handshake fault needs a person; a broker that is away only needs time.
                    level = logging.ERROR if isinstance(exc, BusTlsFailed) else logging.WARNING
                    _log.log(level, "mqtt.reconnect_failed", extra={"reason": str(exc), "retry_in_s": delay})
                    delay = min(delay * 2, _MAX_RETRY_S)
                    continue
                delay = _FIRST_RETRY_S
                if self._closed:  # closed while connecting (a device that started with no broker, say)
                    with contextlib.suppress(OSError):
                        session.sock.close()
                    break
                self._resubscribe(session)
                with self._changed:
                    self._session = session
                    self._changed.notify_all()
                _log.info("mqtt.reconnected", extra={"epoch": session.epoch})
            try:
                self._serve(session)
            except (OSError, ProtocolViolation, _Lost) as exc:
                if not self._closed:
                    _log.warning("mqtt.connection_lost", extra={"reason": str(exc) or type(exc).__name__})
            if self._closed:
                self._send_remaining(session)  # the DISCONNECT
            self._drop(session)

    def _serve(self, session: _Session) -> None:
        """Read, write and keep alive until the connection is lost (raises) or the connection is closed."""
        keepalive = self._settings.keepalive_s
        self._handle(session, session.early)
        session.early = []
        with selectors.DefaultSelector() as selector:
            selector.register(session.sock, selectors.EVENT_READ)
            selector.register(self._wake_signal, selectors.EVENT_READ)
            writing = False
            while not self._closed:
                now = time.monotonic()
                if now - session.last_received > keepalive * 1.5:
                    raise _Lost(f"nothing heard from the broker for {keepalive * 1.5:g} s")
                if now - session.last_sent >= keepalive:
                    self._send(PINGREQ)
                wait_s = max(
                    0.0, min(keepalive - (now - session.last_sent), keepalive * 1.5 - (now - session.last_received))
                )
                # Data TLS has already decrypted is invisible to select: read it without waiting.
                readable = _decrypted(session.sock) > 0
                for key, _ in selector.select(0.0 if readable else wait_s):
                    if key.fileobj is self._wake_signal:
                        with contextlib.suppress(BlockingIOError):
                            self._wake_signal.recv(4096)
                    else:
                        readable = True
                if readable:
                    self._read(session)
                pending = self._write(session)
                if pending != writing:
                    events = selectors.EVENT_READ | selectors.EVENT_WRITE if pending else selectors.EVENT_READ
                    selector.modify(session.sock, events)
                    writing = pending

    def _read(self, session: _Session) -> None:
        while True:
            try:
                data = session.sock.recv(_READ_BYTES)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                # (TLS wanting to write to read happens only in a renegotiation, which TLS 1.3 and Mosquitto do
                # not do: the next round of the loop writes what is queued anyway.)
                return
            if not data:
                raise _Lost("the broker closed the connection")
            session.last_received = time.monotonic()
            self._handle(session, session.reader.feed(data))
            # TLS returns one record at a time: what is left of it is decrypted already, and select cannot see it.
            if len(data) < _READ_BYTES and not _decrypted(session.sock):
                return

    def _handle(self, session: _Session, packets: list[Packet]) -> None:
        messages: list[Publish] = []
        for packet in packets:
            match packet:
                case Publish():
                    messages.append(packet)
                case Puback() | Suback():
                    self._settle(packet)
                case Disconnect():
                    reason = packet.reason_string or reason_text(packet.reason_code)
                    raise _Lost(f"the broker disconnected: {reason}")
                case Connack():
                    raise ProtocolViolation("a second CONNACK on one connection")
        if messages:
            self._on_messages(messages, session.epoch)

    def _write(self, session: _Session) -> bool:
        """Send what is buffered, as far as the socket takes it; True while some is left."""
        with self._lock:
            self._wake_pending = False
            if not self._out:
                return False
            try:
                sent = session.sock.send(self._out[:_TLS_WRITE_BYTES] if self._tls is not None else self._out)
            except (BlockingIOError, ssl.SSLWantWriteError):
                return True
            except ssl.SSLWantReadError:
                return False  # sent again after the next read: every round of the loop writes what is queued
            del self._out[:sent]
            session.last_sent = time.monotonic()
            return bool(self._out)

    def _settle(self, packet: Puback | Suback) -> None:
        with self._changed:
            if isinstance(packet, Puback):
                waited = self._in_flight.pop(packet.packet_id, None)
                if waited is _WAITED:
                    self._outcomes[packet.packet_id] = packet.reason_code
                elif waited is _UNWAITED and packet.reason_code >= 0x80:
                    _log.warning("mqtt.publish_refused", extra={"reason": reason_text(packet.reason_code)})
            else:
                reason = max(packet.reason_codes, default=0x80)
                if packet.packet_id in self._subscribing:
                    self._outcomes[packet.packet_id] = reason
                elif reason >= 0x80:  # a subscription made again after a reconnect
                    _log.error("mqtt.resubscribe_refused", extra={"reason": reason_text(reason)})
            self._changed.notify_all()

    def _drop(self, session: _Session) -> None:
        """Forget a lost connection: waiting publishes fail, buffered bytes are discarded."""
        with self._changed:
            self._session = None
            self._epoch += 1  # acknowledgements of messages read on the lost connection no longer apply
            self._in_flight.clear()
            self._out.clear()
            self._changed.notify_all()
        with contextlib.suppress(OSError):
            session.sock.close()

    def _send_remaining(self, session: _Session) -> None:
        with contextlib.suppress(OSError), self._lock:
            session.sock.settimeout(1.0)
            session.sock.sendall(self._out)

    # Connecting.

    def _connect(self) -> _Session:
        settings = self._settings
        where = settings.address
        deadline = time.monotonic() + settings.connect_timeout_s
        try:
            sock = socket.create_connection((settings.host, settings.port), timeout=settings.connect_timeout_s)
        except OSError as exc:
            raise BusUnavailable(f"cannot reach the MQTT broker at {where} ({exc}); is it running?") from exc
        try:
            # MQTT packets are small: each held back for the TCP acknowledgement of the previous one (which the
            # peer may delay by up to 40 ms) would stall every round trip.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None and settings.tls is not None:
                # The wrapper takes the socket's descriptor over: closing it (below, on failure) closes the socket.
                sock = self._tls.wrap_socket(sock, server_hostname=settings.host, do_handshake_on_connect=False)
                self._handshake(sock, settings.tls, deadline)
            password = settings.password.get_secret_value() if settings.password is not None else None
            connect = encode_connect(
                client_id=settings.client_id,
                clean_start=False,
                keepalive_s=settings.keepalive_s,
                session_expiry_s=settings.session_expiry_s,
                receive_maximum=settings.receive_maximum,
                username=settings.username,
                password=password,
                will=_will(settings.will),
            )
            try:
                sock.sendall(connect)
            except ssl.SSLError as exc:
                raise self._refused_after_handshake(sock, exc) from exc
            reader = PacketReader()
            connack, early = self._read_connack(sock, reader, deadline)
        except BaseException:
            sock.close()
            raise
        if connack.reason_code >= 0x80:
            sock.close()
            raise BusRefused(f"the MQTT broker at {where} refused the connection: {reason_text(connack.reason_code)}")
        sock.setblocking(False)
        now = time.monotonic()
        with self._lock:
            self._epoch += 1
            epoch = self._epoch
        return _Session(
            sock=sock,
            epoch=epoch,
            send_quota=connack.number(Property.RECEIVE_MAXIMUM, 65_535),
            last_sent=now,
            last_received=now,
            reader=reader,
            early=early,
        )

    def _handshake(self, sock: ssl.SSLSocket, tls: MqttTlsSettings, deadline: float) -> None:
        """Complete the TLS handshake by ``deadline``.

        The broker's certificate must be issued by the configured CA for the host connected to.

        Raises:
            BrokerCertificateRejected, BusTlsFailed, BusUnavailable.
        """
        settings = self._settings
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            sock.do_handshake()
        except ssl.SSLError as exc:
            raise handshake_failure(exc, broker=settings.address, host=settings.host, tls=tls) from exc
        except TimeoutError as exc:
            raise BusUnavailable(
                f"the MQTT broker at {settings.address} did not complete the TLS handshake in "
                f"{settings.connect_timeout_s:g} s"
            ) from exc
        except OSError as exc:  # hung up on: a plaintext listener takes the TLS greeting for a bad MQTT packet
            raise BusTlsFailed(
                f"the MQTT broker at {settings.address} hung up on the TLS handshake ({exc}): is this its TLS "
                "listener (8883), not a plaintext one?",
                broker=settings.address,
                reason=str(exc),
            ) from exc

    def _refused_after_handshake(self, sock: socket.socket, exc: ssl.SSLError) -> BusError:
        """The error for a TLS connection the broker dropped after the handshake.

        With TLS 1.3 the broker judges the client's certificate after the client has finished its handshake, and
        says why in an alert. A write may fail before that alert is read: read it, for its reason.
        """
        settings = self._settings
        if settings.tls is None:
            return BusUnavailable(f"the connection to the MQTT broker at {settings.address} failed ({exc})")
        with contextlib.suppress(OSError):
            sock.settimeout(1.0)
            try:
                sock.recv(1)
            except ssl.SSLError as alert:
                exc = alert
        return handshake_failure(exc, broker=settings.address, host=settings.host, tls=settings.tls)

    def _read_connack(self, sock: socket.socket, reader: PacketReader, deadline: float) -> tuple[Connack, list[Packet]]:
        settings = self._settings
        where = settings.address
        # A TLS listener hangs up on a plaintext CONNECT, taking it for a bad TLS greeting.
        hint = "" if settings.tls is not None else " (if it is a TLS listener, connect with TLS: mqtts://)"
        while True:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = sock.recv(4096)
            except TimeoutError as exc:
                raise BusUnavailable(
                    f"the MQTT broker at {where} did not answer the connection in {settings.connect_timeout_s:g} s"
                ) from exc
            except ssl.SSLError as exc:
                raise self._refused_after_handshake(sock, exc) from exc
            except OSError as exc:
                raise BusUnavailable(f"the connection to the MQTT broker at {where} failed ({exc}){hint}") from exc
            if not data:
                raise BusUnavailable(f"the MQTT broker at {where} closed the connection before accepting it{hint}")
            packets = reader.feed(data)
            if packets:
                first = packets[0]
                if not isinstance(first, Connack):
                    raise ProtocolViolation(f"the broker answered CONNECT with {type(first).__name__}, not CONNACK")
                return first, packets[1:]

    def _resubscribe(self, session: _Session) -> None:
        with self._lock:
            packets = [
                encode_subscribe(
                    packet_id=self._new_packet_id(), topic_filter=topic_filter, qos=QOS, subscription_id=number
                )
                for number, topic_filter in sorted(self._subscriptions.items())
            ]
        for packet in packets:
            session.sock.setblocking(True)
            session.sock.sendall(packet)
            session.sock.setblocking(False)

    # Helpers; the caller holds the lock where the name ends in _locked or the docstring says so.

    def _usable_session(self) -> _Session:
        """The live session (lock held).

        Raises:
            BusClosed, BusUnavailable.
        """
        if self._closed:
            raise BusClosed("the bus has been stopped")
        if self._session is None:
            raise BusUnavailable(f"not connected to the MQTT broker at {self._settings.address}")
        return self._session

    def _room_or_change(self, epoch: int) -> bool:
        """Whether a publish may go out now, or the connection changed under the waiter (lock held)."""
        session = self._session
        if session is None or self._epoch != epoch or self._closed:
            return True
        return len(self._in_flight) < session.send_quota

    def _new_packet_id(self) -> int:
        """A packet identifier not in use by our own publishes or waiting outcomes (lock held)."""
        for _ in range(65_535):
            self._next_packet_id = self._next_packet_id % 65_535 + 1
            busy = self._next_packet_id in self._in_flight or self._next_packet_id in self._subscribing
            if not busy and self._next_packet_id not in self._outcomes:
                return self._next_packet_id
        raise BusUnavailable("every MQTT packet identifier is in use; the broker is not confirming messages")

    def _forget(self, ids: Sequence[int]) -> None:
        """Drop the state of publishes whose waiter is giving up (lock held)."""
        for packet_id in ids:
            self._in_flight.pop(packet_id, None)
            self._outcomes.pop(packet_id, None)
        self._changed.notify_all()

    def _send_locked(self, data: bytes) -> None:
        """Send now if nothing is queued ahead and the socket takes it; else queue it for the I/O thread.

        A TLS connection is written by the I/O thread only (see the module docstring): its bytes are always queued.
        """
        session = self._session
        if not self._out and session is not None and self._tls is None:
            try:
                sent = session.sock.send(data)
            except OSError:  # full (BlockingIOError) or broken: the I/O thread sends it, or finds the fault
                sent = 0
            else:
                session.last_sent = time.monotonic()
            if sent == len(data):
                return
            data = data[sent:]
        self._queue_locked(data)

    def _queue_locked(self, data: bytes) -> None:
        """Queue bytes for the I/O thread to send, and wake it unless a wake-up is on its way."""
        self._out += data
        if not self._wake_pending:
            self._wake_pending = True
            with contextlib.suppress(BlockingIOError):
                self._waker.send(b"\x00")

    def _send(self, data: bytes) -> None:
        with self._lock:
            self._send_locked(data)

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            self._waker.send(b"\x00")


def _will(will: MqttWill | None) -> Will | None:
    if will is None:
        return None
    return Will(topic=will.topic, payload=will.payload, message_expiry_s=will.message_expiry_s)


def _decrypted(sock: socket.socket) -> int:
    """Bytes a TLS socket has decrypted and not yet handed over (0 for a plain socket)."""
    return sock.pending() if isinstance(sock, ssl.SSLSocket) else 0


class _Lost(Exception):
    """The connection is gone (internal: the I/O thread makes a new one)."""
