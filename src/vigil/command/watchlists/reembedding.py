"""Re-embedding a watchlist with the server's face model, when the force changes its network.

Embeddings of two networks cannot be compared, so a watchlist is made with one model (``watchlists.model``) and
the server refuses to enrol onto it with another. When the server moves to another network (``vigil serve
--model``), a supervisor re-embeds each watchlist: every template that still has its aligned face chip (the
150 px dlib chip every embedder takes; the photo was never kept) is embedded again with the server's embedder,
and the row takes the new embedding and model. A template whose chip retention deleted has nothing to embed
again: it is counted, keeps the model that made it, and no package holds it. A proposed or live subject left
with no template of the new model is named, so that a person can propose them again with new photos.

The watchlist then takes the new model and, if it has versions, a new one is made (reason ``model_change``), so
its devices are sent packages of the new model; all audited (``watchlist.reembedded``) in the caller's
transaction.
"""

import logging
import uuid
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.command.actor import Actor
from vigil.command.feed.service import open_feed_for_writing
from vigil.command.settings import WatchlistServerSettings
from vigil.command.watchlists.errors import AlreadyOnModel, ChipUnusable
from vigil.command.watchlists.models import SubjectState, VersionReason, WatchlistSubject, WatchlistTemplate
from vigil.command.watchlists.schemas import Reembedded
from vigil.command.watchlists.service import audit_watchlist, watchlist_row
from vigil.command.watchlists.versions import make_version
from vigil.vision.alignment import CHIP_SIZE_PX
from vigil.vision.embedding import Embedder
from vigil.vision.errors import ImageError
from vigil.vision.image import ImageLimits, RgbImage, load_image

_log = logging.getLogger(__name__)

BATCH_CHIPS = 32
"""Chips embedded in one call: a batch for the network, a bounded amount of memory."""

_CHIP_LIMITS = ImageLimits(max_pixels=CHIP_SIZE_PX * CHIP_SIZE_PX, max_bytes=1024 * 1024)


def reembed_watchlist(
    *,
    session: Session,
    watchlist_id: uuid.UUID,
    embedder: Embedder,
    actor: Actor,
    settings: WatchlistServerSettings,
    now: datetime,
) -> Reembedded:
    """Embed the watchlist's templates again from their chips with ``embedder``, and make a version of the new model.

    The caller syncs packages and commits; it holds ``embedder`` alone meanwhile.

    Args:
        session: the transaction.
        watchlist_id: the watchlist.
        embedder: the server's embedder, whose model the watchlist takes.
        actor: who asked (a supervisor, or the command line).
        settings: the package validity settings, for the new version.
        now: the current time (UTC).

    Returns:
        The models, what was embedded again, what could not be, and the new version.

    Raises:
        UnknownWatchlist: no such watchlist.
        AlreadyOnModel: the watchlist is made with the embedder's model already.
        ChipUnusable: a stored chip is not a readable 150 px chip (damaged data; nothing is changed).
    """
    open_feed_for_writing(session=session)  # before the row lock, as make_version needs it
    watchlist = watchlist_row(session, watchlist_id, lock=True)
    old_model, new_model = watchlist.model, embedder.model.model_id
    if old_model == new_model:
        raise AlreadyOnModel(watchlist_id=str(watchlist_id), model=new_model)
    rows = session.execute(
        select(WatchlistTemplate, WatchlistSubject.subject_id, WatchlistSubject.state)
        .join(WatchlistSubject, WatchlistSubject.id == WatchlistTemplate.subject_row_id)
        .where(WatchlistSubject.watchlist_id == watchlist_id)
        .order_by(WatchlistTemplate.id)
        .with_for_update(of=WatchlistTemplate)
    ).all()
    with_chip = [(template, template.chip_jpeg) for template, _, _ in rows if template.chip_jpeg is not None]
    for start in range(0, len(with_chip), BATCH_CHIPS):
        batch = with_chip[start : start + BATCH_CHIPS]
        embeddings = embedder.embed([_chip(template.id, chip_jpeg) for template, chip_jpeg in batch])
        for (template, _), embedding in zip(batch, embeddings, strict=True):
            template.embedding = np.asarray(embedding, dtype="<f4").tobytes()
            template.model = new_model
    searched = {SubjectState.PROPOSED, SubjectState.LIVE}
    subjects = {subject_id for _, subject_id, state in rows if state in searched}
    kept = {subject_id for template, subject_id, _ in rows if template.chip_jpeg is not None}
    without_templates = sorted(subjects - kept)
    watchlist.model = new_model
    session.flush()
    version = None
    if watchlist.current_version is not None:
        version = make_version(
            session=session,
            watchlist=watchlist,
            reason=VersionReason.MODEL_CHANGE,
            subject_id=None,
            actor=actor,
            settings=settings,
            now=now,
        ).version
    result = Reembedded(
        watchlist_id=watchlist_id,
        from_model=old_model,
        to_model=new_model,
        templates_reembedded=len(with_chip),
        templates_without_chip=len(rows) - len(with_chip),
        subjects_without_templates=without_templates,
        version=version,
    )
    audit_watchlist(
        session,
        actor,
        "watchlist.reembedded",
        watchlist,
        {
            "from_model": old_model,
            "to_model": new_model,
            "templates_reembedded": result.templates_reembedded,
            "templates_without_chip": result.templates_without_chip,
            "subjects_without_templates": without_templates,
            "version": version,
        },
        now,
    )
    _log.info(
        "watchlist.reembedded",
        extra={
            "watchlist_id": str(watchlist_id),
            "from_model": old_model,
            "to_model": new_model,
            "templates": result.templates_reembedded,
            "without_chip": result.templates_without_chip,
            "subjects_without_templates": len(without_templates),
            "version": version,
        },
    )
    return result


def _chip(template_id: int, chip_jpeg: bytes) -> RgbImage:
    """A template's stored chip decoded as the embedder takes it: (150, 150, 3) uint8 RGB.

    Raises:
        ChipUnusable: it does not decode, or not to a 150 px chip.
    """
    try:
        chip = load_image(chip_jpeg, _CHIP_LIMITS)
    except ImageError as exc:
        raise ChipUnusable(
            f"the face chip of template {template_id} cannot be read ({exc}); its subject must be proposed again "
            "with new photos",
            template_id=template_id,
        ) from exc
    if chip.shape != (CHIP_SIZE_PX, CHIP_SIZE_PX, 3):
        raise ChipUnusable(
            f"the face chip of template {template_id} is {chip.shape[1]}×{chip.shape[0]} px, not the "
            f"{CHIP_SIZE_PX} px chip the embedder takes; its subject must be proposed again with new photos",
            template_id=template_id,
        )
    return chip
