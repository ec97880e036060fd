"""The MQTT 5 wire format, as far as Vigil speaks it: a client that publishes and subscribes at QoS 0 and 1.

Encoders build the packets a client sends (CONNECT with an optional will, PUBLISH, PUBACK, SUBSCRIBE, PINGREQ,
DISCONNECT);
:class:`PacketReader` turns the bytes a broker sends into packets, however the stream is cut. Everything else
in the protocol (QoS 2, AUTH exchanges, topic aliases) is refused as a :class:`ProtocolViolation`: Vigil never
asks for it (the CONNECT leaves Topic Alias Maximum at 0), so a broker that sends it is broken.

References are to the OASIS MQTT Version 5.0 standard (2019), section numbers in brackets.
"""

import enum
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from vigil.bus.errors import BusError

MAX_PACKET_BYTES = 268_435_455
"""The largest remaining length a variable byte integer can express [1.5.5]."""

PINGREQ = b"\xc0\x00"


class ProtocolViolation(BusError):
    """The broker sent bytes that are not a valid MQTT 5 packet for a QoS 0/1 client; the connection is dropped."""


class PacketType(enum.IntEnum):
    """The control packet types [2.1.2]."""

    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14
    AUTH = 15


class Property(enum.IntEnum):
    """The property identifiers Vigil sends or reads [2.2.2.2]."""

    MESSAGE_EXPIRY_INTERVAL = 0x02
    SUBSCRIPTION_IDENTIFIER = 0x0B
    SESSION_EXPIRY_INTERVAL = 0x11
    ASSIGNED_CLIENT_IDENTIFIER = 0x12
    SERVER_KEEP_ALIVE = 0x13
    REASON_STRING = 0x1F
    RECEIVE_MAXIMUM = 0x21
    WILL_DELAY_INTERVAL = 0x18
    TOPIC_ALIAS = 0x23
    MAXIMUM_QOS = 0x24
    MAXIMUM_PACKET_SIZE = 0x27


class _Kind(enum.Enum):
    BYTE = 1
    TWO = 2
    FOUR = 4
    VARINT = 5
    TEXT = 6
    BINARY = 7
    PAIR = 8


# Every property of the standard, with its data type [2.2.2.2], so that any of them can be skipped correctly.
_PROPERTY_KINDS: dict[int, _Kind] = {
    0x01: _Kind.BYTE,
    0x02: _Kind.FOUR,
    0x03: _Kind.TEXT,
    0x08: _Kind.TEXT,
    0x09: _Kind.BINARY,
    0x0B: _Kind.VARINT,
    0x11: _Kind.FOUR,
    0x12: _Kind.TEXT,
    0x13: _Kind.TWO,
    0x15: _Kind.TEXT,
    0x16: _Kind.BINARY,
    0x17: _Kind.BYTE,
    0x18: _Kind.FOUR,
    0x19: _Kind.BYTE,
    0x1A: _Kind.TEXT,
    0x1C: _Kind.TEXT,
    0x1F: _Kind.TEXT,
    0x21: _Kind.TWO,
    0x22: _Kind.TWO,
    0x23: _Kind.TWO,
    0x24: _Kind.BYTE,
    0x25: _Kind.BYTE,
    0x26: _Kind.PAIR,
    0x27: _Kind.FOUR,
    0x28: _Kind.BYTE,
    0x29: _Kind.BYTE,
    0x2A: _Kind.BYTE,
}

PropertyValue = int | str | bytes | tuple[str, str]

REASONS: dict[int, str] = {
    0x00: "success",
    0x04: "disconnect with will message",
    0x10: "no matching subscribers",
    0x80: "unspecified error",
    0x81: "malformed packet",
    0x82: "protocol error",
    0x83: "implementation specific error",
    0x84: "unsupported protocol version",
    0x85: "client identifier not valid",
    0x86: "bad user name or password",
    0x87: "not authorized",
    0x88: "server unavailable",
    0x89: "server busy",
    0x8A: "banned",
    0x8B: "server shutting down",
    0x8C: "bad authentication method",
    0x8D: "keep alive timeout",
    0x8E: "session taken over",
    0x8F: "topic filter invalid",
    0x90: "topic name invalid",
    0x91: "packet identifier in use",
    0x93: "receive maximum exceeded",
    0x95: "packet too large",
    0x97: "quota exceeded",
    0x99: "payload format invalid",
    0x9A: "retain not supported",
    0x9B: "QoS not supported",
    0x9C: "use another server",
    0x9D: "server moved",
    0x9E: "shared subscriptions not supported",
    0x9F: "connection rate exceeded",
    0xA1: "subscription identifiers not supported",
    0xA2: "wildcard subscriptions not supported",
}


def reason_text(code: int) -> str:
    """A reason code as words, e.g. ``not authorized (0x87)``."""
    return f"{REASONS.get(code, 'unknown reason')} (0x{code:02X})"


@dataclass(frozen=True, slots=True)
class Connack:
    """CONNACK [3.2]: the broker's answer to CONNECT."""

    session_present: bool
    reason_code: int
    properties: dict[int, list[PropertyValue]] = field(default_factory=dict)

    def number(self, identifier: Property, default: int) -> int:
        """A numeric property's value, or ``default`` when the broker did not send it."""
        values = self.properties.get(identifier)
        return int(values[0]) if values and isinstance(values[0], int) else default


@dataclass(frozen=True, slots=True)
class Publish:
    """PUBLISH [3.3] as received: a message for one or more of the client's subscriptions."""

    topic: str
    payload: bytes
    qos: int
    packet_id: int
    dup: bool
    subscription_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Puback:
    """PUBACK [3.4]: the broker has taken a QoS 1 message (or refused it, reason code ≥ 0x80)."""

    packet_id: int
    reason_code: int


@dataclass(frozen=True, slots=True)
class Suback:
    """SUBACK [3.9]: one reason code per topic filter subscribed (granted QoS, or a refusal ≥ 0x80)."""

    packet_id: int
    reason_codes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Pingresp:
    """PINGRESP [3.13]."""


@dataclass(frozen=True, slots=True)
class Disconnect:
    """DISCONNECT [3.14] from the broker: it is closing the connection, and why."""

    reason_code: int
    reason_string: str | None


Packet = Connack | Publish | Puback | Suback | Pingresp | Disconnect


def encode_varint(value: int) -> bytes:
    """A variable byte integer [1.5.5].

    Raises:
        ValueError: negative or beyond 268,435,455.
    """
    if not 0 <= value <= MAX_PACKET_BYTES:
        raise ValueError(f"{value} cannot be a variable byte integer (0 to {MAX_PACKET_BYTES:,})")
    out = bytearray()
    while True:
        byte, value = value % 128, value // 128
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def _text(value: str) -> bytes:
    data = value.encode("utf-8")
    if len(data) > 65_535:
        raise ValueError(f"a string of {len(data):,} bytes does not fit an MQTT string (65,535 at most)")
    return struct.pack("!H", len(data)) + data


def _packet(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + encode_varint(len(body)) + body


def _properties(pairs: Iterable[tuple[Property, int]]) -> bytes:
    body = bytearray()
    for identifier, value in pairs:
        body.append(identifier)
        match _PROPERTY_KINDS[identifier]:
            case _Kind.TWO:
                body += struct.pack("!H", value)
            case _Kind.FOUR:
                body += struct.pack("!I", value)
            case _Kind.VARINT:
                body += encode_varint(value)
            case kind:
                raise ValueError(f"property 0x{identifier:02X} is a {kind.name}, not sent as a number")
    return encode_varint(len(body)) + bytes(body)


@dataclass(frozen=True, slots=True)
class Will:
    """The will [3.1.2.5, 3.1.3.2]: what the broker publishes for a client whose connection ends without DISCONNECT.

    Attributes:
        topic: where it is published (not retained: Vigil's broker refuses retained messages).
        payload: what.
        message_expiry_s: how long the broker offers it to subscribers away, seconds; None: for ever.
    """

    topic: str
    payload: bytes
    message_expiry_s: int | None


def encode_connect(
    *,
    client_id: str,
    clean_start: bool,
    keepalive_s: int,
    session_expiry_s: int,
    receive_maximum: int,
    username: str | None,
    password: str | None,
    will: Will | None = None,
) -> bytes:
    """CONNECT [3.1] for MQTT 5; a will, when given, at QoS 1, published as soon as the connection is lost.

    Raises:
        ValueError: a field out of its range.
    """
    if not 0 <= keepalive_s <= 65_535:
        raise ValueError(f"keep-alive {keepalive_s} s is outside 0 to 65,535")
    if not 1 <= receive_maximum <= 65_535:
        raise ValueError(f"receive maximum {receive_maximum} is outside 1 to 65,535")
    flags = (0x02 if clean_start else 0) | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    if will is not None:
        flags |= 0x04 | 0x08  # will flag, will QoS 1
    body = bytearray(_text("MQTT"))
    body += bytes([5, flags]) + struct.pack("!H", keepalive_s)
    body += _properties(
        [(Property.SESSION_EXPIRY_INTERVAL, session_expiry_s), (Property.RECEIVE_MAXIMUM, receive_maximum)]
    )
    body += _text(client_id)
    if will is not None:
        expiry = [] if will.message_expiry_s is None else [(Property.MESSAGE_EXPIRY_INTERVAL, will.message_expiry_s)]
        body += _properties([(Property.WILL_DELAY_INTERVAL, 0), *expiry])
        body += _text(will.topic) + struct.pack("!H", len(will.payload)) + will.payload
    if username is not None:
        body += _text(username)
    if password is not None:
        secret = password.encode("utf-8")
        body += struct.pack("!H", len(secret)) + secret
    return _packet(PacketType.CONNECT << 4, bytes(body))


def encode_publish(
    *,
    topic: str,
    payload: bytes,
    qos: int,
    packet_id: int,
    dup: bool,
    message_expiry_s: int | None = None,
) -> bytes:
    """PUBLISH [3.3] (``packet_id`` is ignored at QoS 0).

    Args:
        topic: the topic name.
        payload: the message.
        qos: 0 or 1.
        packet_id: its identifier (QoS 1).
        dup: a resend of a message sent before on this connection.
        message_expiry_s: the broker drops it, undelivered, after this long [3.3.2.3.3], seconds; None: never.

    Raises:
        ValueError: a QoS other than 0 or 1, or a QoS 1 message without a packet identifier.
    """
    if qos not in (0, 1):
        raise ValueError(f"QoS {qos} is not supported; Vigil publishes at QoS 0 or 1")
    topic_bytes = topic.encode("utf-8")
    header = struct.pack("!H", len(topic_bytes)) + topic_bytes
    if qos:
        if not 1 <= packet_id <= 65_535:
            raise ValueError(f"packet identifier {packet_id} is outside 1 to 65,535")
        header += struct.pack("!H", packet_id)
    first = (PacketType.PUBLISH << 4) | (0x08 if dup and qos else 0) | (qos << 1)
    properties = (
        b"\x00" if message_expiry_s is None else _properties([(Property.MESSAGE_EXPIRY_INTERVAL, message_expiry_s)])
    )
    length = len(header) + len(properties) + len(payload)
    return bytes([first]) + encode_varint(length) + header + properties + payload


def encode_puback(packet_id: int) -> bytes:
    """PUBACK [3.4] with reason Success: the short form, with no reason code or properties [3.4.2.1]."""
    return struct.pack("!BBH", PacketType.PUBACK << 4, 2, packet_id)


def encode_subscribe(*, packet_id: int, topic_filter: str, qos: int, subscription_id: int) -> bytes:
    """SUBSCRIBE [3.8] to one filter, with a subscription identifier so messages say which subscription they are for.

    Retained messages are not sent on subscribing (retain handling 2): Vigil publishes none, and a stale one left on
    the broker by something else must not look like a new event.
    """
    body = struct.pack("!H", packet_id) + _properties([(Property.SUBSCRIPTION_IDENTIFIER, subscription_id)])
    body += _text(topic_filter) + bytes([qos | 0x20])
    return _packet((PacketType.SUBSCRIBE << 4) | 0x02, body)


def encode_disconnect(*, reason_code: int = 0, session_expiry_s: int | None = None) -> bytes:
    """DISCONNECT [3.14]; reason 0 (normal) discards the will.

    Args:
        reason_code: why.
        session_expiry_s: a new session expiry [3.14.2.2.2]; 0 ends the session now (the broker drops what it
            holds for the client, and its place in shared subscriptions). None keeps the CONNECT's. A session
            connected with expiry 0 cannot be given a longer one here.
    """
    if session_expiry_s is None:
        return _packet(PacketType.DISCONNECT << 4, bytes([reason_code, 0]))
    properties = _properties([(Property.SESSION_EXPIRY_INTERVAL, session_expiry_s)])
    return _packet(PacketType.DISCONNECT << 4, bytes([reason_code]) + properties)


class PacketReader:
    """Turns the broker's byte stream into packets, whatever size the pieces arrive in."""

    def __init__(self, *, max_packet_bytes: int = MAX_PACKET_BYTES) -> None:
        """Start with an empty buffer.

        Args:
            max_packet_bytes: a packet announcing more than this is a violation (a broker never sends more than
                the client accepts).
        """
        self._buffer = bytearray()
        self._max_packet_bytes = max_packet_bytes

    def feed(self, data: bytes) -> list[Packet]:
        """Add bytes; returns every packet they complete, in order (an incomplete one waits for more).

        Raises:
            ProtocolViolation: bytes that are not a packet a QoS 0/1 client can receive.
        """
        buffer = self._buffer
        buffer += data
        packets: list[Packet] = []
        position = 0
        end = len(buffer)
        while end - position >= 2:
            first = buffer[position]
            length = 0
            multiplier = 1
            cursor = position + 1
            while True:
                if cursor >= end:
                    del buffer[:position]
                    return packets
                byte = buffer[cursor]
                cursor += 1
                length += (byte & 0x7F) * multiplier
                if not byte & 0x80:
                    break
                multiplier *= 128
                if multiplier > 128**3:
                    raise ProtocolViolation("a packet's remaining length runs over four bytes")
            if length > self._max_packet_bytes:
                raise ProtocolViolation(f"a packet of {length:,} bytes is over the {self._max_packet_bytes:,} accepted")
            if end - cursor < length:
                break
            packets.append(_decode(first, bytes(buffer[cursor : cursor + length])))
            position = cursor + length
        del buffer[:position]
        return packets


def _decode(first: int, body: bytes) -> Packet:
    kind = first >> 4
    try:
        match kind:
            case PacketType.PUBLISH:
                return _decode_publish(first, body)
            case PacketType.PUBACK:
                packet_id = struct.unpack_from("!H", body)[0]
                return Puback(packet_id=packet_id, reason_code=body[2] if len(body) > 2 else 0)
            case PacketType.SUBACK:
                packet_id = struct.unpack_from("!H", body)[0]
                properties_length, offset = _read_varint(body, 2)
                return Suback(packet_id=packet_id, reason_codes=tuple(body[offset + properties_length :]))
            case PacketType.CONNACK:
                properties = _read_properties(body, 2)[0] if len(body) > 2 else {}
                return Connack(session_present=bool(body[0] & 1), reason_code=body[1], properties=properties)
            case PacketType.PINGRESP:
                return Pingresp()
            case PacketType.DISCONNECT:
                reason_code = body[0] if body else 0
                properties = _read_properties(body, 1)[0] if len(body) > 1 else {}
                reason = properties.get(Property.REASON_STRING)
                return Disconnect(reason_code=reason_code, reason_string=str(reason[0]) if reason else None)
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise ProtocolViolation(f"a truncated or malformed {_name(kind)} packet ({exc})") from exc
    raise ProtocolViolation(f"the broker sent a {_name(kind)} packet, which a QoS 0/1 client never receives")


def _decode_publish(first: int, body: bytes) -> Publish:
    qos = (first >> 1) & 0x03
    if qos > 1:
        raise ProtocolViolation(f"a PUBLISH at QoS {qos}; Vigil subscribes at QoS 1 at most")
    topic_length = (body[0] << 8) | body[1]
    offset = 2 + topic_length
    topic = body[2:offset].decode("utf-8")
    packet_id = 0
    if qos:
        packet_id = (body[offset] << 8) | body[offset + 1]
        offset += 2
    subscription_ids: tuple[int, ...] = ()
    if body[offset] == 0:  # the common case: no properties
        offset += 1
    else:
        properties, offset = _read_properties(body, offset)
        if Property.TOPIC_ALIAS in properties:
            raise ProtocolViolation("a PUBLISH with a topic alias, though the client allows none")
        subscription_ids = tuple(
            int(v) for v in properties.get(Property.SUBSCRIPTION_IDENTIFIER, ()) if isinstance(v, int)
        )
    if not topic:
        raise ProtocolViolation("a PUBLISH without a topic name")
    return Publish(
        topic=topic,
        payload=body[offset:],
        qos=qos,
        packet_id=packet_id,
        dup=bool(first & 0x08),
        subscription_ids=subscription_ids,
    )


def _read_varint(data: bytes, offset: int) -> tuple[int, int]:
    value = 0
    multiplier = 1
    for _ in range(4):
        byte = data[offset]
        offset += 1
        value += (byte & 0x7F) * multiplier
        if not byte & 0x80:
            return value, offset
        multiplier *= 128
    raise ProtocolViolation("a variable byte integer runs over four bytes")


def _read_properties(data: bytes, offset: int) -> tuple[dict[int, list[PropertyValue]], int]:
    length, offset = _read_varint(data, offset)
    end = offset + length
    if end > len(data):
        raise ProtocolViolation(f"properties of {length} bytes run past the end of the packet")
    properties: dict[int, list[PropertyValue]] = {}
    while offset < end:
        identifier, offset = _read_varint(data, offset)
        kind = _PROPERTY_KINDS.get(identifier)
        value: PropertyValue
        match kind:
            case _Kind.BYTE:
                value, offset = data[offset], offset + 1
            case _Kind.TWO:
                value, offset = struct.unpack_from("!H", data, offset)[0], offset + 2
            case _Kind.FOUR:
                value, offset = struct.unpack_from("!I", data, offset)[0], offset + 4
            case _Kind.VARINT:
                value, offset = _read_varint(data, offset)
            case _Kind.TEXT:
                text, offset = _read_binary(data, offset)
                value = text.decode("utf-8")
            case _Kind.BINARY:
                value, offset = _read_binary(data, offset)
            case _Kind.PAIR:
                key, offset = _read_binary(data, offset)
                item, offset = _read_binary(data, offset)
                value = (key.decode("utf-8"), item.decode("utf-8"))
            case None:
                raise ProtocolViolation(f"unknown property identifier 0x{identifier:02X}")
        properties.setdefault(identifier, []).append(value)
    if offset != end:
        raise ProtocolViolation("properties run past their stated length")
    return properties, offset


def _read_binary(data: bytes, offset: int) -> tuple[bytes, int]:
    length = struct.unpack_from("!H", data, offset)[0]
    start = offset + 2
    if start + length > len(data):
        raise ProtocolViolation("a string runs past the end of the packet")
    return data[start : start + length], start + length


def _name(kind: int) -> str:
    try:
        return PacketType(kind).name
    except ValueError:
        return f"reserved (type {kind})"
