"""What each device was sent of the watchlists: the versions announced to it and the subjects each held.

A device learns of a version only from a ``watchlist.available`` announcement queued for it
(:func:`~vigil.command.watchlists.versions.sync_packages`, kept in the downlink table, whose rows are never
deleted), and the package it then downloads holds that version's subjects (``watchlist_versions.subject_ids``).
So an alert naming a version never announced to its device, or a subject that version did not hold, did not
come from anything the centre sent: ingestion rejects it (``version_not_sent``, ``subject_not_sent``) before it
can reach the review queue. Older versions still count: an alert raised before the next package arrived names
the version the device held then. Each version's templates were made with one face model
(``watchlist_versions.model``): an alert made with another (``model_mismatch``) compared embeddings of two
networks, and its distance means nothing.
"""

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.command.downlink.models import DownlinkMessage
from vigil.command.watchlists.models import WatchlistVersion
from vigil.events import WatchlistAvailable

_ANNOUNCEMENT = WatchlistAvailable.model_fields["type"].default


@dataclass(frozen=True)
class SentWatchlists:
    """Each device's versions, by number, with the subject ids each held.

    Attributes:
        versions: device id → version → subject ids; a device with no entry was sent none.
        models: version → the face model (a model id) of its templates, for every version in ``versions``.
    """

    versions: Mapping[str, Mapping[int, frozenset[str]]]
    models: Mapping[int, str]

    def subjects(self, device_id: str, version: int) -> frozenset[str] | None:
        """The subjects of ``version`` as sent to ``device_id``; None when it was never sent that version."""
        return self.versions.get(device_id, {}).get(version)

    def model(self, version: int) -> str | None:
        """The face model of ``version``'s templates; None when it was sent to none of the devices asked about."""
        return self.models.get(version)

    def newest(self, device_id: str) -> int | None:
        """The newest version sent to ``device_id``; None when it was sent none."""
        sent = self.versions.get(device_id)
        return max(sent) if sent else None


def sent_watchlists(*, session: Session, device_ids: Collection[str]) -> SentWatchlists:
    """The versions announced to these devices, with their subjects and models (two queries, whatever the number).

    Returns:
        What each of ``device_ids`` was sent.
    """
    if not device_ids:
        return SentWatchlists(versions={}, models={})
    announced: dict[str, set[int]] = {}
    for device_id, payload in session.execute(
        select(DownlinkMessage.device_id, DownlinkMessage.payload).where(
            DownlinkMessage.type == _ANNOUNCEMENT, DownlinkMessage.device_id.in_(sorted(device_ids))
        )
    ):
        # Written by the centre itself (an encoded WatchlistAvailable): only its version is needed.
        announced.setdefault(device_id, set()).add(int(json.loads(payload)["version"]))
    numbers = sorted(set().union(*announced.values())) if announced else []
    subjects: dict[int, frozenset[str]] = {}
    models: dict[int, str] = {}
    for number, subject_ids, model in session.execute(
        select(WatchlistVersion.version, WatchlistVersion.subject_ids, WatchlistVersion.model).where(
            WatchlistVersion.version.in_(numbers)
        )
    ):
        subjects[number] = frozenset(subject_ids)
        models[number] = model
    return SentWatchlists(
        versions={
            device_id: {number: subjects.get(number, frozenset()) for number in numbers_sent}
            for device_id, numbers_sent in announced.items()
        },
        models=models,
    )
