"""Each watchlist version's operating threshold: measured for its face model and size, or a supervisor's choice.

A version runs at the threshold measured for its watchlist's face model and number of live people
(:mod:`vigil.watchlist.operating_point`: 1 false alert in 10,000 faces for dlib's ResNet), unless a supervisor
chose one for the watchlist:

* a chosen threshold stricter than (or equal to) the one by size applies (``stricter``);
* a chosen threshold looser than the one by size is never applied silently: choosing it needs a reason (at least
  10 characters), which is audited (``watchlist.looser_threshold``) and printed on the public report; with it, the
  chosen threshold applies at every size (``looser``), however far the watchlist grows;
* a chosen threshold that was stricter when chosen, without a reason, becomes looser as the watchlist grows: the
  one by size applies then (``size``), and the version records both.

Each version stores the threshold for its size, the chosen one, which applied, the reason, and what its threshold
is expected to do (:class:`~vigil.command.watchlists.schemas.ExpectationOut`): the supervisor who approves an
entry sees it, and the public report prints it.
"""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vigil.command.watchlists.errors import LooserThresholdRefused, UnknownWatchlist, WatchlistModelMismatch
from vigil.command.watchlists.models import SubjectState, ThresholdBasis, Watchlist, WatchlistSubject, WatchlistVersion
from vigil.command.watchlists.schemas import ApprovalOut, ExpectationOut, SubjectOut, ThresholdOut
from vigil.vision.face_model import DLIB_MODEL_ID
from vigil.vision.settings import VisionSettings, embedder_manifest, embedder_model
from vigil.watchlist.operating_point import Expectation, OperatingTable, table_for, table_for_manifest


@dataclass(frozen=True)
class ThresholdChoice:
    """The threshold a version of some size runs at, and how it was chosen.

    Attributes:
        threshold: the one that applies.
        size_threshold: the one measured for the model and size.
        chosen_threshold: the watchlist's chosen one; None: none.
        basis: which applies.
        looser_threshold_reason: why a looser chosen one may apply; None: none was given.
        expected: what ``threshold`` is expected to do at this size.
    """

    threshold: float
    size_threshold: float
    chosen_threshold: float | None
    basis: ThresholdBasis
    looser_threshold_reason: str | None
    expected: Expectation

    def columns(self) -> dict[str, Any]:
        """The :class:`~vigil.command.watchlists.models.WatchlistVersion` columns that record it."""
        return {
            "threshold": self.threshold,
            "size_threshold": self.size_threshold,
            "chosen_threshold": self.chosen_threshold,
            "threshold_basis": self.basis,
            "looser_threshold_reason": self.looser_threshold_reason if self.basis is ThresholdBasis.LOOSER else None,
            "expected": expectation_out(self.expected).model_dump(mode="json"),
        }

    def out(self) -> ThresholdOut:
        """The API shape."""
        return ThresholdOut(
            watchlist_size=self.expected.watchlist_size,
            threshold=self.threshold,
            size_threshold=self.size_threshold,
            chosen_threshold=self.chosen_threshold,
            basis=self.basis,
            looser_threshold_reason=self.looser_threshold_reason,
            expected=expectation_out(self.expected),
        )


def choose_threshold(
    *, table: OperatingTable, size: int, chosen: float | None, looser_threshold_reason: str | None
) -> ThresholdChoice:
    """The threshold a watchlist of ``size`` people runs at (module docstring).

    Args:
        table: the watchlist's face model's operating table.
        size: its live people.
        chosen: the threshold a supervisor chose; None: none.
        looser_threshold_reason: the reason given for a chosen threshold looser than the one by size.

    Returns:
        The choice, with what the applied threshold is expected to do.
    """
    by_size = table.threshold_for_size(size)
    if chosen is None:
        threshold, basis = by_size, ThresholdBasis.SIZE
    elif chosen <= by_size:
        threshold, basis = chosen, ThresholdBasis.STRICTER
    elif looser_threshold_reason is not None:
        threshold, basis = chosen, ThresholdBasis.LOOSER
    else:
        threshold, basis = by_size, ThresholdBasis.SIZE
    return ThresholdChoice(
        threshold=threshold,
        size_threshold=by_size,
        chosen_threshold=chosen,
        basis=basis,
        looser_threshold_reason=looser_threshold_reason,
        expected=table.expected_at(size, threshold),
    )


def check_watchlist_threshold(
    *, session: Session, watchlist: Watchlist, size: int, vision: VisionSettings | None
) -> ThresholdChoice:
    """What the watchlist's chosen threshold does at ``size`` people; refused if looser than by size without a reason.

    Raises:
        LooserThresholdRefused: the chosen threshold is looser than the one for ``size`` and no reason was given.
        WatchlistModelMismatch: the watchlist's model is unknown to the server and it has no version yet.
    """
    choice = version_threshold(session=session, watchlist=watchlist, size=size, vision=vision)
    chosen = watchlist.threshold
    if chosen is not None and chosen > choice.size_threshold and watchlist.looser_threshold_reason is None:
        raise LooserThresholdRefused(
            threshold=chosen,
            size_threshold=choice.size_threshold,
            watchlist_size=choice.expected.watchlist_size,
            expected=choice.expected.sentence,
        )
    return choice


def looser_audit(choice: ThresholdChoice) -> dict[str, Any] | None:
    """The ``watchlist.looser_threshold`` audit details when a reason for a looser threshold was given; else None."""
    if choice.looser_threshold_reason is None or choice.chosen_threshold is None:
        return None
    return {
        "threshold": choice.chosen_threshold,
        "size_threshold": choice.size_threshold,
        "watchlist_size": choice.expected.watchlist_size,
        "looser_now": choice.basis is ThresholdBasis.LOOSER,
        # The reason is free text, kept on the watchlist's and its versions' records; the audit seals its digest.
        "reason_sha256": hashlib.sha256(choice.looser_threshold_reason.encode()).hexdigest(),
        "false_alerts_per_10k": choice.expected.false_alerts_per_10k,
        "false_alerts_at_most": choice.expected.false_alerts_at_most,
    }


def operating_table(*, model_id: str, vision: VisionSettings | None) -> OperatingTable | None:
    """The operating table of a face model the server knows: dlib's ResNet, or the one its manifest names.

    Args:
        model_id: the watchlist's face model.
        vision: the server's face engine settings (its embedder may be a manifest's network); None: a built-in one.

    Returns:
        The table; None for a model that is neither dlib's nor the server's.
    """
    if model_id == DLIB_MODEL_ID:
        return table_for(model_id)
    manifest = None if vision is None else embedder_manifest(vision.embedder)
    if manifest is None or manifest.identity.model_id != model_id:
        return None
    return table_for_manifest(manifest)


def version_threshold(
    *, session: Session, watchlist: Watchlist, size: int, vision: VisionSettings | None
) -> ThresholdChoice:
    """The threshold the watchlist's next version, of ``size`` live people, runs at (module docstring).

    A watchlist made with a model the server no longer runs (neither dlib's nor its manifest's) keeps its current
    version's threshold, unmeasured, until it is re-embedded.

    Raises:
        WatchlistModelMismatch: the watchlist's model is unknown to the server and it has no version yet.
    """
    table = operating_table(model_id=watchlist.model, vision=vision)
    if table is None:
        if watchlist.current_version is None:
            raise WatchlistModelMismatch(
                watchlist_id=str(watchlist.watchlist_id),
                watchlist_model=watchlist.model,
                server_model=_server_model(vision),
            )
        kept = session.get_one(WatchlistVersion, watchlist.current_version).threshold
        table = OperatingTable(watchlist.model, (), uncalibrated_threshold=kept)
    return choose_threshold(
        table=table, size=size, chosen=watchlist.threshold, looser_threshold_reason=watchlist.looser_threshold_reason
    )


def preview_threshold(
    *, session: Session, watchlist_id: uuid.UUID, size: int | None, vision: VisionSettings, now: datetime
) -> ThresholdOut:
    """What the watchlist would run at with ``size`` people (None: one more than live now, as after an approval).

    Raises:
        UnknownWatchlist: no such watchlist.
        WatchlistModelMismatch: the watchlist's model is unknown to the server and it has no version yet.
    """
    watchlist = session.get(Watchlist, watchlist_id)
    if watchlist is None:
        raise UnknownWatchlist(str(watchlist_id))
    if size is None:
        size = live_count(session=session, watchlist_id=watchlist_id, now=now) + 1
    return version_threshold(session=session, watchlist=watchlist, size=size, vision=vision).out()


def live_count(*, session: Session, watchlist_id: uuid.UUID, now: datetime) -> int:
    """The watchlist's subjects approved and not expired at ``now``."""
    return int(
        session.scalar(
            select(func.count()).where(
                WatchlistSubject.watchlist_id == watchlist_id,
                WatchlistSubject.state == SubjectState.LIVE,
                WatchlistSubject.expires_at > now,
            )
        )
        or 0
    )


def approval_out(subject: SubjectOut, version: WatchlistVersion) -> ApprovalOut:
    """An approved subject with the threshold of the version it went live in and what it is expected to do.

    Raises:
        ValueError: the version was made without recording its threshold's choice (before revision 0010).
    """
    if version.size_threshold is None or version.threshold_basis is None or version.expected is None:
        raise ValueError(f"version {version.version} does not record how its threshold was chosen")
    return ApprovalOut(
        **subject.model_dump(),
        version=version.version,
        threshold=version.threshold,
        size_threshold=version.size_threshold,
        threshold_basis=version.threshold_basis,
        expected=ExpectationOut.model_validate(version.expected),
    )


def expectation_out(expected: Expectation) -> ExpectationOut:
    """The API shape of an expectation, with its sentence."""
    return ExpectationOut(
        watchlist_size=expected.watchlist_size,
        threshold=expected.threshold,
        false_alerts_per_10k=expected.false_alerts_per_10k,
        false_alerts_at_most=expected.false_alerts_at_most,
        true_match_rate=expected.true_match_rate,
        true_match_at_least=expected.true_match_at_least,
        measured=expected.measured,
        note=expected.note,
        sentence=expected.sentence,
    )


def _server_model(vision: VisionSettings | None) -> str:
    return DLIB_MODEL_ID if vision is None else embedder_model(vision.embedder).model_id
