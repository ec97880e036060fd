"""Events from simulated devices for load tests: positions wandering about a city, alerts with a face crop.

No video and no recognition: the events are what a body camera sends (valid against the contracts in
:mod:`vigil.events`), made as fast as a load test needs them. The same seed gives the same positions.
"""

import io
import uuid
from datetime import timedelta

import numpy as np
from PIL import Image

from vigil.edge.route import Point
from vigil.events import AlertRaised, Location, Position, PositionOrigin, QualitySummary, new_event_id, utc_now
from vigil.vision.face_model import DLIB_MODEL_ID

LOAD_SUBJECT_ID = "load-test-subject"
"""The subject every load-test alert names."""
LOAD_WATCHLIST_VERSION = 1
"""The watchlist version every load-test alert names (:func:`vigil.sim.load.register_load_devices` sends it)."""

LONDON: Point = (51.5074, -0.1278)
"""Where simulated devices wander by default: Charing Cross."""


def crop_jpeg(target_bytes: int = 20_000) -> bytes:
    """A face-crop-sized JPEG of about ``target_bytes`` (a stand-in; its content does not matter).

    Returns:
        JPEG bytes, the first size from 64 px up whose file is at least ``target_bytes``.
    """
    rng = np.random.default_rng(7)
    data = b""
    for side in range(64, 1025, 8):
        ramp = np.linspace(0, 255, side, dtype=np.float32)
        base = (ramp[None, :, None] + ramp[:, None, None]) / 2
        noisy = np.clip(base + rng.normal(0, 40, (side, side, 3)), 0, 255).astype(np.uint8)
        out = io.BytesIO()
        Image.fromarray(noisy, "RGB").save(out, format="JPEG", quality=80)
        data = out.getvalue()
        if len(data) >= target_bytes:
            break
    return data


def is_alert(number: int, share: float) -> bool:
    """Whether event ``number`` (from 0) of a stream with ``share`` alerts (0 to 1) is an alert.

    Alerts are spread evenly: exactly ``floor(n × share)`` of the first ``n`` events are alerts.
    """
    return int((number + 1) * share) > int(number * share)


class DeviceEvents:
    """One simulated device's events: a position wandering about a point, and alerts from where it is."""

    def __init__(
        self,
        device_id: str,
        unit_id: str,
        *,
        seed: int,
        probe_jpeg: bytes | None = None,
        around: Point = LONDON,
        spread_deg: float = 0.05,
    ) -> None:
        """Place the device at random within ``spread_deg`` of ``around``.

        Args:
            device_id: the device.
            unit_id: its unit.
            seed: the position's random walk.
            probe_jpeg: the face crop every alert carries; None: this device sends no alerts.
            around: the centre of the area, (lat, lon) degrees.
            spread_deg: how far from it devices start, degrees.
        """
        self.device_id = device_id
        self.unit_id = unit_id
        self._rng = np.random.default_rng(seed)
        self._lat = around[0] + float(self._rng.uniform(-spread_deg, spread_deg))
        self._lon = around[1] + float(self._rng.uniform(-spread_deg, spread_deg))
        self._probe = probe_jpeg

    def position(self) -> Position:
        """The device's next position, a step of about a metre from the last."""
        self._lat += float(self._rng.normal(0, 1e-5))
        self._lon += float(self._rng.normal(0, 1e-5))
        return Position(
            device_id=self.device_id,
            unit_id=self.unit_id,
            lat=self._lat,
            lon=self._lon,
            accuracy_m=5.0,
            heading_deg=90.0,
            speed_mps=1.4,
            source=PositionOrigin.SIM,
        )

    def alert(self) -> AlertRaised:
        """An alert from where the device is.

        Raises:
            ValueError: the device was made without a face crop.
        """
        if self._probe is None:
            raise ValueError(f"{self.device_id} was made without probe_jpeg, so it cannot send alerts")
        now = utc_now()
        return AlertRaised(
            id=new_event_id(),
            at=now,
            device_id=self.device_id,
            unit_id=self.unit_id,
            alert_id=uuid.uuid4(),
            subject_id=LOAD_SUBJECT_ID,
            watchlist_version=LOAD_WATCHLIST_VERSION,
            model=DLIB_MODEL_ID,
            distance=0.42,
            threshold=0.5,
            quality=QualitySummary(score=0.8, parts={"sharpness": 0.9}),
            frames=5,
            first_seen_at=now - timedelta(seconds=2),
            location=Location(lat=self._lat, lon=self._lon, accuracy_m=5.0),
            probe_jpeg=self._probe,
        )
