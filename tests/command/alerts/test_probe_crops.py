"""A device's face crop is stored and shown to reviewers as it came, so it must be one whole JPEG and nothing else:
a crop cut short, or with a page after its end, is turned away with its reason; what is served is a JPEG that a
browser will not read as anything else (SQLite and PostgreSQL, over HTTP)."""

from collections.abc import Callable

import pytest

from tests.command.conftest import Register, RunningServer
from tests.command.events import alert, send_watchlist
from vigil.command.database import Database
from vigil.events import encode_event

HTML = b"<html><body><script>fetch('/api/v1/users')</script></body></html>"

# name, how the device's crop is changed, words of the rejection
DAMAGED: list[tuple[str, Callable[[bytes], bytes], str]] = [
    ("cut short", lambda crop: crop[: len(crop) * 2 // 3], "cut short"),
    # Pillow and libjpeg fill the missing part in grey: before, such a crop was stored and served.
    ("cut short, end marker added", lambda crop: crop[: len(crop) * 2 // 3] + b"\xff\xd9", "premature end"),
    ("an HTML page after its end", lambda crop: crop + HTML, f"{len(HTML)} bytes follow the JPEG's end marker"),
    ("a second image after its end", lambda crop: crop + crop, "bytes follow the JPEG's end marker"),
]


@pytest.mark.parametrize(("damage", "words"), [c[1:] for c in DAMAGED], ids=[c[0] for c in DAMAGED])
def test_a_crop_that_is_not_one_whole_jpeg_is_rejected_with_its_reason(
    server: RunningServer,
    database: Database,
    register: Register,
    operator_token: str,
    probe_jpeg: bytes,
    damage: Callable[[bytes], bytes],
    words: str,
) -> None:
    token = register()
    send_watchlist(database, "cam-1")
    raised = alert(probe_jpeg).model_copy(update={"probe_jpeg": damage(probe_jpeg)})
    with server.client(token) as device, server.client(operator_token) as operator:
        answer = device.post("/api/v1/events", content=encode_event(raised))
        listed = operator.get("/api/v1/alerts").json()
        image = operator.get(f"/api/v1/alerts/{raised.alert_id}/probe.jpg")
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()["results"]
    assert (result["outcome"], result["reason"]) == ("rejected", "probe_not_jpeg")
    assert result["message"].startswith("the probe crop: ")
    assert words in result["message"]
    assert listed["alerts"] == []
    assert image.status_code == 404


def test_a_whole_crop_is_served_as_a_jpeg_that_is_never_sniffed(
    server: RunningServer, database: Database, register: Register, operator_token: str, probe_jpeg: bytes
) -> None:
    token = register()
    send_watchlist(database, "cam-1")
    raised = alert(probe_jpeg)
    with server.client(token) as device, server.client(operator_token) as operator:
        answer = device.post("/api/v1/events", content=encode_event(raised))
        served = [
            operator.get(f"/api/v1/alerts/{raised.alert_id}/probe.jpg"),
            operator.get(f"/api/v1/reviews/{raised.alert_id}/probe.jpg"),
        ]
    assert answer.json()["accepted"] == 1, answer.text
    for response in served:
        assert response.status_code == 200, response.text
        assert response.content == probe_jpeg
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
