"""Watchlist governance: deployments' watchlists, proposals, the two-person rule, removal, expiry, renewal.

Rules enforced here, whatever route or job calls them:

* a subject is *proposed* by an operator or supervisor with at least one template that passed the face engine's
  quality bar, a legal basis and an expiry in the future; it is searched for by nobody yet; its templates are
  made with the watchlist's face model (embeddings of two models cannot be compared: a watchlist made with
  another model than the server's is re-embedded first, :mod:`vigil.command.watchlists.reembedding`);
* it goes *live* only when a user with the supervisor role who is not its proposer approves it: that makes a new
  version, packaged for the watchlist's devices and announced to them, in the same transaction;
* a supervisor removes a live subject (a new version), or declines a proposal (the proposer may withdraw it);
* a live subject past its expiry is *expired* by the scheduler (a new version without it; devices refuse the old
  package from that moment anyway, since a package is valid no longer than its first subject);
* a version whose packages near the end of their validity is renewed (a new version, same subjects).

Every change is audited in the same transaction. Service functions take the acting person and the time, and the
caller commits.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.command.actor import Actor
from vigil.command.feed.service import open_feed_for_writing
from vigil.command.settings import WatchlistServerSettings
from vigil.command.watchlists.errors import (
    ProposalRefused,
    SubjectIdTaken,
    SubjectStateConflict,
    TwoPersonRuleBroken,
    UnknownSubject,
    WatchlistModelMismatch,
)
from vigil.command.watchlists.models import (
    SubjectState,
    VersionReason,
    Watchlist,
    WatchlistSubject,
    WatchlistTemplate,
    WatchlistVersion,
)
from vigil.command.watchlists.schemas import SubjectOut, SubjectProposal
from vigil.command.watchlists.service import audit_subject, subject_out, subject_row, watchlist_row
from vigil.command.watchlists.versions import live_subjects, make_version, version_valid_until, window_open
from vigil.watchlist.enrolment import EnrolledFace

PROPOSER_ROLES = frozenset({"operator", "supervisor"})
APPROVER_ROLE = "supervisor"


def propose_subject(
    *,
    session: Session,
    watchlist_id: uuid.UUID,
    proposal: SubjectProposal,
    faces: Sequence[EnrolledFace],
    sources: Sequence[str],
    actor: Actor,
    now: datetime,
) -> SubjectOut:
    """Propose a subject with its templates; nobody searches for it until a second person approves.

    Args:
        session: the transaction; the caller commits.
        watchlist_id: the watchlist.
        proposal: who, why (category, legal basis), until when, notes.
        faces: the templates made from the photos by the server's face engine, each with the quality verdict it
            passed.
        sources: each photo's name, in the order of ``faces``.
        actor: the proposer (an operator or supervisor).
        now: the current time (UTC).

    Raises:
        UnknownWatchlist: no such watchlist.
        TwoPersonRuleBroken: the proposer is neither operator nor supervisor.
        WatchlistModelMismatch: a template was made with another face model than the watchlist's.
        ProposalRefused: no template, an expiry not in the future, or the deployment has ended.
        SubjectIdTaken: the watchlist has a subject with this id already.
    """
    # Locked: a re-embedding under way changes the watchlist's model, and must see every template of the old one.
    watchlist = watchlist_row(session, watchlist_id, lock=True)
    if not actor.holds(PROPOSER_ROLES):
        raise TwoPersonRuleBroken("proposing a subject needs the operator or supervisor role")
    for face in faces:
        if face.template.model != watchlist.model:
            raise WatchlistModelMismatch(
                watchlist_id=str(watchlist_id), watchlist_model=watchlist.model, server_model=face.template.model
            )
    problems = []
    if not faces or len(faces) != len(sources):
        problems.append("at least one photo that passes the quality bar is needed")
    if proposal.expires_at <= now:
        problems.append(f"the expiry {proposal.expires_at.isoformat()} is not in the future")
    if watchlist.ends_at is not None and watchlist.ends_at <= now:
        problems.append(f"the deployment ended at {watchlist.ends_at.isoformat()}")
    if problems:
        raise ProposalRefused(problems)
    taken = session.scalar(
        select(WatchlistSubject.id).where(
            WatchlistSubject.watchlist_id == watchlist_id, WatchlistSubject.subject_id == proposal.subject_id
        )
    )
    if taken is not None:
        raise SubjectIdTaken(proposal.subject_id)
    subject = WatchlistSubject(
        id=uuid.uuid4(),
        watchlist_id=watchlist_id,
        subject_id=proposal.subject_id,
        display_name=proposal.display_name,
        category=proposal.category,
        legal_basis=proposal.legal_basis,
        expires_at=proposal.expires_at,
        notes=proposal.notes,
        state=SubjectState.PROPOSED,
        proposed_by=actor.user_id,
        proposed_by_name=actor.display_name,
        proposed_at=now,
    )
    session.add(subject)
    session.flush()
    for face, source in zip(faces, sources, strict=True):
        session.add(
            WatchlistTemplate(
                subject_row_id=subject.id,
                source=source[:200],
                embedding=face.template.embedding.astype("<f4").tobytes(),
                model=face.template.model,
                chip_jpeg=face.template.chip_jpeg,
                quality_score=face.quality.score,
                quality=face.quality.model_dump(mode="json"),
            )
        )
    session.flush()
    audit_subject(
        session,
        actor,
        "watchlist.subject_proposed",
        subject,
        {"templates": len(faces), "category": subject.category},
        now,
    )
    return subject_out(session=session, subject=subject)


def approve_subject(
    *,
    session: Session,
    watchlist_id: uuid.UUID,
    subject_id: str,
    actor: Actor,
    settings: WatchlistServerSettings,
    now: datetime,
) -> tuple[SubjectOut, WatchlistVersion]:
    """Approve a proposed subject: it goes live in a new version. The caller syncs packages and commits.

    Raises:
        UnknownWatchlist, UnknownSubject: no such watchlist or subject.
        TwoPersonRuleBroken: the approver is not a supervisor, or proposed the subject.
        SubjectStateConflict: the subject is not awaiting approval, or has expired meanwhile.
    """
    open_feed_for_writing(session=session)
    watchlist = watchlist_row(session, watchlist_id, lock=True)
    subject = subject_row(session, watchlist_id, subject_id, lock=True)
    if APPROVER_ROLE not in actor.roles:
        raise TwoPersonRuleBroken("approving a subject needs the supervisor role")
    if actor.user_id == subject.proposed_by:
        raise TwoPersonRuleBroken(
            f"{actor.display_name} proposed {subject_id!r} and cannot also approve it; another supervisor must"
        )
    if subject.state is not SubjectState.PROPOSED:
        raise SubjectStateConflict(
            f"{subject_id!r} is {subject.state.value}, not awaiting approval",
            subject_id=subject_id,
            state=subject.state.value,
        )
    if subject.expires_at <= now:
        raise SubjectStateConflict(
            f"{subject_id!r} expired at {subject.expires_at.isoformat()}; it cannot go live",
            subject_id=subject_id,
            state="expired",
        )
    if watchlist.ends_at is not None and watchlist.ends_at <= now:
        raise SubjectStateConflict(
            f"the deployment ended at {watchlist.ends_at.isoformat()}", subject_id=subject_id, state="ended"
        )
    subject.state = SubjectState.LIVE
    subject.approved_by = actor.user_id
    subject.approved_by_name = actor.display_name
    subject.approved_at = now
    session.flush()
    audit_subject(session, actor, "watchlist.subject_approved", subject, {}, now)
    version = make_version(
        session=session,
        watchlist=watchlist,
        reason=VersionReason.APPROVAL,
        subject_id=subject_id,
        actor=actor,
        settings=settings,
        now=now,
    )
    return subject_out(session=session, subject=subject), version


def remove_subject(
    *,
    session: Session,
    watchlist_id: uuid.UUID,
    subject_id: str,
    reason: str,
    actor: Actor,
    settings: WatchlistServerSettings,
    now: datetime,
) -> tuple[SubjectOut, WatchlistVersion | None]:
    """Remove a live subject (a new version without it), or decline or withdraw a proposal (no version).

    A supervisor may do either; the proposer may withdraw their own proposal. The caller syncs packages and
    commits.

    Returns:
        The subject, and the new version when a live subject was removed.

    Raises:
        UnknownWatchlist, UnknownSubject: no such watchlist or subject.
        TwoPersonRuleBroken: neither a supervisor nor (for a proposal) its proposer.
        SubjectStateConflict: the subject was removed or has expired already.
    """
    open_feed_for_writing(session=session)
    watchlist = watchlist_row(session, watchlist_id, lock=True)
    subject = subject_row(session, watchlist_id, subject_id, lock=True)
    if subject.state in (SubjectState.REMOVED, SubjectState.EXPIRED):
        raise SubjectStateConflict(
            f"{subject_id!r} is {subject.state.value} already", subject_id=subject_id, state=subject.state.value
        )
    withdrawing = subject.state is SubjectState.PROPOSED and actor.user_id == subject.proposed_by
    if APPROVER_ROLE not in actor.roles and not withdrawing:
        raise TwoPersonRuleBroken("removing a subject needs the supervisor role (a proposer may withdraw a proposal)")
    was_live = subject.state is SubjectState.LIVE
    subject.state = SubjectState.REMOVED
    subject.ended_at = now
    subject.ended_by = actor.user_id
    subject.end_reason = reason
    session.flush()
    action = "watchlist.subject_removed" if was_live else "watchlist.proposal_declined"
    audit_subject(session, actor, action, subject, {}, now)  # the reason is kept on the subject's record
    if not was_live:
        return subject_out(session=session, subject=subject), None
    version = make_version(
        session=session,
        watchlist=watchlist,
        reason=VersionReason.REMOVAL,
        subject_id=subject_id,
        actor=actor,
        settings=settings,
        now=now,
    )
    return subject_out(session=session, subject=subject), version


def expire_subjects(*, session: Session, settings: WatchlistServerSettings, now: datetime) -> list[WatchlistVersion]:
    """Expire every subject past its expiry; each watchlist that lost a live subject gets one new version.

    Proposals past their expiry expire too (they were never live: no version). The caller syncs packages and
    commits.

    Returns:
        The versions made.
    """
    open_feed_for_writing(session=session)
    actor = Actor.system("expiry")
    due = session.scalars(
        select(WatchlistSubject)
        .where(
            WatchlistSubject.state.in_([SubjectState.PROPOSED, SubjectState.LIVE]),
            WatchlistSubject.expires_at <= now,
        )
        .order_by(WatchlistSubject.watchlist_id, WatchlistSubject.subject_id)
    ).all()
    lost: dict[uuid.UUID, list[str]] = {}
    for subject in due:
        if subject.state is SubjectState.LIVE:
            lost.setdefault(subject.watchlist_id, []).append(subject.subject_id)
        subject.state = SubjectState.EXPIRED
        subject.ended_at = now
        subject.ended_by = actor.user_id
        subject.end_reason = f"expired at {subject.expires_at.isoformat()}"
        audit_subject(session, actor, "watchlist.subject_expired", subject, {}, now)
    session.flush()
    versions = []
    for watchlist_id, subject_ids in lost.items():
        versions.append(
            make_version(
                session=session,
                watchlist=watchlist_row(session, watchlist_id),
                reason=VersionReason.EXPIRY,
                subject_id=subject_ids[0] if len(subject_ids) == 1 else None,
                actor=actor,
                settings=settings,
                now=now,
            )
        )
    return versions


def renew_versions(*, session: Session, settings: WatchlistServerSettings, now: datetime) -> list[WatchlistVersion]:
    """Make a new version of each open watchlist whose packages are near the end of their validity.

    Only when the new version would be valid for longer than the current one: a validity cut short by a
    subject's expiry or the deployment's end is not renewed (expiry makes the next version). The caller syncs
    packages and commits.

    Returns:
        The versions made.
    """
    open_feed_for_writing(session=session)
    rows = session.execute(
        select(Watchlist, WatchlistVersion).join(
            WatchlistVersion, WatchlistVersion.version == Watchlist.current_version
        )
    )
    versions = []
    for watchlist, current in rows:
        if not window_open(watchlist, now) or (current.valid_until - now).total_seconds() >= settings.renew_before_s:
            continue
        live = live_subjects(session=session, watchlist_id=watchlist.watchlist_id, now=now)
        if version_valid_until(watchlist=watchlist, live=live, settings=settings, now=now) <= current.valid_until:
            continue
        versions.append(
            make_version(
                session=session,
                watchlist=watchlist,
                reason=VersionReason.RENEWAL,
                subject_id=None,
                actor=Actor.system("renewal"),
                settings=settings,
                now=now,
            )
        )
    return versions


def subject_chip(*, session: Session, watchlist_id: uuid.UUID, subject_id: str, template_id: int) -> bytes:
    """One enrolled face chip of a subject, JPEG.

    Raises:
        UnknownSubject: no such subject, template, or the chip was deleted by retention.
    """
    subject = subject_row(session, watchlist_id, subject_id)
    chip = session.scalar(
        select(WatchlistTemplate.chip_jpeg).where(
            WatchlistTemplate.id == template_id, WatchlistTemplate.subject_row_id == subject.id
        )
    )
    if chip is None:
        raise UnknownSubject(f"{subject_id}/templates/{template_id}")
    return chip
