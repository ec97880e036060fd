"""Alerts held against the street cameras' ground truth: which were right, and how long after the face was in view.

An alert is matched to the latest walk past the same camera by the person it names that had begun (their face in
view) by the time of the alert. One that matches no such walk is a wrong alert: the camera never showed that
person before it, so the match was someone else. The latencies run from the first frame with the face in view,
and from the first frame with it clearly in view, to the moment given for the alert (when the command centre
stored it, say, or when it reached the operator's feed).
"""

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from vigil.sim.street_camera import Appearance


@dataclass(frozen=True)
class AlertSeen:
    """An alert, as the command centre recorded it.

    Attributes:
        device_id: the camera that raised it.
        subject_id: whom it names.
        at: the moment to measure to (timezone-aware).
    """

    device_id: str
    subject_id: str
    at: datetime


@dataclass(frozen=True)
class AlertTruth:
    """An alert and the walk past the camera it belongs to.

    Attributes:
        alert: the alert.
        appearance: the walk, or None for a wrong alert.
        from_in_view_s: seconds from the first frame with the face in view to the alert; None for a wrong alert.
        from_clear_s: seconds from the first frame with the face clearly in view (negative: the alert came while
            the face was still small); None for a wrong alert or a face never clearly in view.
    """

    alert: AlertSeen
    appearance: Appearance | None
    from_in_view_s: float | None
    from_clear_s: float | None

    @property
    def correct(self) -> bool:
        """Whether the camera had shown the person the alert names."""
        return self.appearance is not None


def match_alerts(appearances: Mapping[str, Sequence[Appearance]], alerts: Sequence[AlertSeen]) -> list[AlertTruth]:
    """Hold each alert against its camera's walks.

    Args:
        appearances: each camera's walks (as :meth:`vigil.sim.street_camera.StreetCamera.appearances` gives them),
            by device id.
        alerts: the alerts, in any order.

    Returns:
        One verdict per alert, in the order given.
    """
    verdicts = []
    for alert in alerts:
        begun = [
            a
            for a in appearances.get(alert.device_id, ())
            if a.person_id == alert.subject_id and a.first_seen_at is not None and a.first_seen_at <= alert.at
        ]
        walk = max(begun, key=lambda a: a.number, default=None)
        if walk is None or walk.first_seen_at is None:
            verdicts.append(AlertTruth(alert=alert, appearance=None, from_in_view_s=None, from_clear_s=None))
            continue
        clear = (alert.at - walk.first_clear_at).total_seconds() if walk.first_clear_at is not None else None
        verdicts.append(
            AlertTruth(
                alert=alert,
                appearance=walk,
                from_in_view_s=(alert.at - walk.first_seen_at).total_seconds(),
                from_clear_s=clear,
            )
        )
    return verdicts


def median_from_in_view_s(verdicts: Sequence[AlertTruth]) -> float | None:
    """The median seconds from face in view to alert over the correct alerts; None when there are none."""
    values = [v.from_in_view_s for v in verdicts if v.from_in_view_s is not None]
    return statistics.median(values) if values else None


def in_view_when_seen(truth: AlertTruth, seen_at: datetime, *, margin_s: float = 2.0) -> bool:
    """Whether the walk an alert belongs to had the face in view when the device first saw the face it matched.

    A stricter test than :attr:`AlertTruth.correct`: an alert naming someone who walked past earlier, raised while
    somebody else walks past, belongs to that earlier walk but is still a wrong alert.

    Args:
        truth: the alert held against the walks.
        seen_at: when the device first saw the face it matched (the alert's ``first_seen_at``, timezone-aware).
        margin_s: slack either side of the walk's face-in-view frames, seconds (the device's clock of its own
            frames is not the camera's frame for frame).

    Returns:
        True when the face was in view at ``seen_at``, give or take the margin.
    """
    walk = truth.appearance
    if walk is None or walk.first_seen_at is None:
        return False
    margin = timedelta(seconds=margin_s)
    last = walk.last_seen_at or walk.first_seen_at
    return walk.first_seen_at - margin <= seen_at <= last + margin
