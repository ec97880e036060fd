"""The MQTT 5 codec against byte strings written out from the standard (OASIS MQTT 5.0) by hand."""

import pytest

from vigil.bus.mqtt_packets import (
    Connack,
    Disconnect,
    PacketReader,
    Pingresp,
    Property,
    ProtocolViolation,
    Puback,
    Publish,
    Suback,
    encode_connect,
    encode_disconnect,
    encode_puback,
    encode_publish,
    encode_subscribe,
    encode_varint,
    reason_text,
)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
        (268_435_455, b"\xff\xff\xff\x7f"),
    ],
)
def test_variable_byte_integers(value: int, encoded: bytes) -> None:
    assert encode_varint(value) == encoded


@pytest.mark.parametrize("value", [-1, 268_435_456])
def test_variable_byte_integers_have_a_range(value: int) -> None:
    with pytest.raises(ValueError, match="cannot be a variable byte integer"):
        encode_varint(value)


def test_connect_with_credentials_and_a_persistent_session() -> None:
    packet = encode_connect(
        client_id="cam-7",
        clean_start=False,
        keepalive_s=30,
        session_expiry_s=86_400,
        receive_maximum=1000,
        username="cam-7",
        password="secret",
    )
    body = (
        b"\x00\x04MQTT\x05"
        + bytes([0x80 | 0x40])  # user name and password, clean start off
        + b"\x00\x1e"  # keep-alive 30 s
        + b"\x08\x11\x00\x01\x51\x80\x21\x03\xe8"  # session expiry 86,400 s, receive maximum 1,000
        + b"\x00\x05cam-7\x00\x05cam-7\x00\x06secret"
    )
    assert packet == b"\x10" + bytes([len(body)]) + body


def test_connect_clean_start_without_credentials() -> None:
    packet = encode_connect(
        client_id="c",
        clean_start=True,
        keepalive_s=5,
        session_expiry_s=0,
        receive_maximum=1,
        username=None,
        password=None,
    )
    assert packet[9] == 0x02


def test_publish_qos1_and_qos0() -> None:
    assert encode_publish(topic="a/b", payload=b"hi", qos=1, packet_id=10, dup=False) == (
        b"\x32\x0a\x00\x03a/b\x00\x0a\x00hi"
    )
    assert encode_publish(topic="a/b", payload=b"hi", qos=1, packet_id=10, dup=True)[0] == 0x3A
    assert encode_publish(topic="a", payload=b"", qos=0, packet_id=0, dup=True) == b"\x30\x04\x00\x01a\x00"


@pytest.mark.parametrize(
    ("qos", "packet_id", "message"),
    [(2, 1, "QoS 2 is not supported"), (1, 0, "packet identifier 0"), (1, 65_536, "packet identifier 65536")],
)
def test_publish_refuses_what_vigil_never_sends(qos: int, packet_id: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_publish(topic="a", payload=b"", qos=qos, packet_id=packet_id, dup=False)


def test_large_publish_has_a_multi_byte_length() -> None:
    packet = encode_publish(topic="t", payload=b"x" * 300, qos=1, packet_id=1, dup=False)
    assert packet[1:3] == encode_varint(2 + 1 + 2 + 1 + 300)


def test_puback_subscribe_and_disconnect() -> None:
    assert encode_puback(0x1234) == b"\x40\x02\x12\x34"
    assert encode_subscribe(packet_id=7, topic_filter="a/#", qos=1, subscription_id=3) == (
        b"\x82\x0b\x00\x07\x02\x0b\x03\x00\x03a/#\x21"
    )
    assert encode_disconnect() == b"\xe0\x02\x00\x00"


def _publish_in(topic: bytes, packet_id: bytes, properties: bytes, payload: bytes, first: int = 0x32) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + packet_id + properties + payload
    return bytes([first]) + encode_varint(len(body)) + body


def test_reader_decodes_every_packet_a_client_receives() -> None:
    stream = (
        b"\x20\x06\x01\x00\x03\x21\x00\x14"  # CONNACK: session present, success, receive maximum 20
        + _publish_in(b"v/1", b"\x00\x05", b"\x04\x0b\x01\x0b\x02", b"{}")  # two subscription identifiers
        + _publish_in(b"v/2", b"", b"\x00", b"q0", first=0x30)
        + b"\x40\x02\x00\x05"  # PUBACK, short form
        + b"\x40\x04\x00\x06\x87\x00"  # PUBACK, not authorised
        + b"\x90\x05\x00\x07\x00\x01\x80"  # SUBACK: granted QoS 1, refused
        + b"\xd0\x00"  # PINGRESP
        + b"\xe0\x0c\x8b\x0a\x1f\x00\x07bye now"  # DISCONNECT: server shutting down, with a reason string
    )
    packets = PacketReader().feed(stream)
    assert packets == [
        Connack(session_present=True, reason_code=0, properties={Property.RECEIVE_MAXIMUM: [20]}),
        Publish(topic="v/1", payload=b"{}", qos=1, packet_id=5, dup=False, subscription_ids=(1, 2)),
        Publish(topic="v/2", payload=b"q0", qos=0, packet_id=0, dup=False, subscription_ids=()),
        Puback(packet_id=5, reason_code=0),
        Puback(packet_id=6, reason_code=0x87),
        Suback(packet_id=7, reason_codes=(1, 0x80)),
        Pingresp(),
        Disconnect(reason_code=0x8B, reason_string="bye now"),
    ]
    assert packets[0].number(Property.RECEIVE_MAXIMUM, 65_535) == 20  # type: ignore[union-attr]
    assert Connack(session_present=False, reason_code=0).number(Property.RECEIVE_MAXIMUM, 65_535) == 65_535


def test_reader_copes_with_any_cut_of_the_stream() -> None:
    payload = b"x" * 200  # a two-byte remaining length, so a cut can fall inside it
    stream = _publish_in(b"a/b", b"\x00\x01", b"\x00", payload) + b"\x40\x02\x00\x01"
    for cut in range(len(stream)):
        reader = PacketReader()
        packets = reader.feed(stream[:cut]) + reader.feed(stream[cut:])
        assert [type(p) for p in packets] == [Publish, Puback], cut
    one_by_one = PacketReader()
    assert len([p for byte in stream for p in one_by_one.feed(bytes([byte]))]) == 2


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        (b"\x34\x05\x00\x01a\x00\x01", "QoS 2"),
        (b"\x50\x02\x00\x01", "PUBREC packet, which a QoS 0/1 client never receives"),
        (b"\x10\x00", "CONNECT packet"),
        (b"\x00\x00", r"reserved \(type 0\)"),
        (b"\x32\xff\xff\xff\xff\x01", "runs over four bytes"),
        (b"\x32\x03\x00\x05a", "truncated or malformed PUBLISH"),
        (b"\x32\x08\x00\x01a\x00\x01\x02\x23\x00", "truncated or malformed PUBLISH"),
        (b"\x32\x09\x00\x01a\x00\x01\x03\x23\x00\x01", "topic alias"),
        (b"\x32\x07\x00\x00\x00\x01\x00ab"[:9], "without a topic name"),
        (b"\x32\x08\x00\x01a\x00\x01\x01\x7e\x00", "unknown property identifier 0x7E"),
        (b"\x32\x06\x00\x02\xff\xfe\x00\x01", "truncated or malformed PUBLISH"),
    ],
)
def test_reader_refuses_what_a_broker_must_not_send(stream: bytes, message: str) -> None:
    with pytest.raises(ProtocolViolation, match=message):
        PacketReader().feed(stream)


def test_reader_refuses_a_packet_over_its_limit() -> None:
    with pytest.raises(ProtocolViolation, match="over the 100 accepted"):
        PacketReader(max_packet_bytes=100).feed(b"\x32\x80\x01")


def test_reason_codes_read_as_words() -> None:
    assert reason_text(0x87) == "not authorized (0x87)"
    assert reason_text(0x42) == "unknown reason (0x42)"
