"""What a server needs to leave its share group: a will in CONNECT, a DISCONNECT that ends the session, and
messages that expire, against byte strings written out from the standard (OASIS MQTT 5.0) by hand.

Their effect on a real Mosquitto (the will published when a server is killed, its share released at a normal
stop) is tested in tests/command/test_scale_out.py.
"""

from vigil.bus.mqtt_packets import PacketReader, Publish, Will, encode_connect, encode_disconnect, encode_publish
from vigil.bus.mqtt_settings import MqttSettings
from vigil.command.ingestion.group import Presence, PresenceState, presence_topic, server_session


def test_connect_with_a_will_that_expires() -> None:
    packet = encode_connect(
        client_id="s",
        clean_start=False,
        keepalive_s=30,
        session_expiry_s=30,
        receive_maximum=1,
        username=None,
        password=None,
        will=Will(topic="w/x", payload=b"gone", message_expiry_s=30),
    )
    body = (
        b"\x00\x04MQTT\x05"
        + bytes([0x04 | 0x08])  # will, will QoS 1, not retained; clean start off
        + b"\x00\x1e"
        + b"\x08\x11\x00\x00\x00\x1e\x21\x00\x01"  # session expiry 30 s, receive maximum 1
        + b"\x00\x01s"
        + b"\x0a\x18\x00\x00\x00\x00\x02\x00\x00\x00\x1e"  # will delay 0 s (published at once), message expiry 30 s
        + b"\x00\x03w/x\x00\x04gone"
    )
    assert packet == b"\x10" + bytes([len(body)]) + body


def test_a_disconnect_can_end_the_session() -> None:
    assert encode_disconnect(session_expiry_s=0) == b"\xe0\x07\x00\x05\x11\x00\x00\x00\x00"
    assert encode_disconnect() == b"\xe0\x02\x00\x00"  # the session outlives the connection by its expiry


def test_a_publish_that_expires_reads_back() -> None:
    packet = encode_publish(topic="a/b", payload=b"hi", qos=1, packet_id=10, dup=False, message_expiry_s=10)
    assert packet == b"\x32\x0f\x00\x03a/b\x00\x0a\x05\x02\x00\x00\x00\x0ahi"
    assert PacketReader().feed(packet) == [
        Publish(topic="a/b", payload=b"hi", qos=1, packet_id=10, dup=False, subscription_ids=())
    ]


def test_a_server_session_is_short_ends_on_stop_and_leaves_a_will() -> None:
    session = server_session(MqttSettings(client_id="vigil-command/1"))
    assert (session.session_expiry_s, session.end_session_on_stop) == (30, True)
    assert session.will is not None
    assert (session.will.topic, session.will.message_expiry_s) == ("vigil/v1/servers/vigil-command%2F1/presence", 30)
    assert Presence.model_validate_json(session.will.payload) == Presence(
        client_id="vigil-command/1", state=PresenceState.GONE, session_expiry_s=30
    )


def test_a_session_expiry_given_is_kept() -> None:
    for given in (0, 3600):
        session = server_session(MqttSettings(client_id="s", session_expiry_s=given))
        assert session.session_expiry_s == given
        assert session.will is not None
        assert session.will.message_expiry_s == max(given, 1)
    assert presence_topic("a+b#") == "vigil/v1/servers/a%2Bb%23/presence"
