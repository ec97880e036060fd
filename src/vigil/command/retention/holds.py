"""Retention holds: what keeps a confirmed alert's face crop past the case period (an open incident).

Retention asks a :class:`RetentionHold` which of the alerts it is about to clear are still needed; the server and
``vigil retention run`` always ask :class:`~vigil.command.incidents.service.OpenIncidentHold` ("attached to an
open incident"). :class:`NoHold` and :class:`AnyHold` compose holds, as the retention tests do.
"""

import uuid
from collections.abc import Collection, Sequence
from typing import Protocol

from sqlalchemy.orm import Session


class RetentionHold(Protocol):
    """Says which alerts' face crops must be kept for now."""

    def held_alert_ids(self, *, session: Session, alert_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """The ids among ``alert_ids`` whose crops must be kept (one query, in the caller's transaction)."""
        ...


class NoHold:
    """Holds nothing: the default until incidents exist."""

    def held_alert_ids(self, *, session: Session, alert_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Nothing is held."""
        return set()


class AnyHold:
    """Holds an alert when any of its holds does."""

    def __init__(self, holds: Sequence[RetentionHold]) -> None:
        """Compose ``holds``."""
        self._holds = tuple(holds)

    def held_alert_ids(self, *, session: Session, alert_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """The union of every hold's answer."""
        held: set[uuid.UUID] = set()
        for hold in self._holds:
            held |= hold.held_alert_ids(session=session, alert_ids=alert_ids)
        return held
