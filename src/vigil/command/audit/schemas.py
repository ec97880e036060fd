"""Shapes of the audit trail in the API and the command line: entries, pages, verification and export."""

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditEntryOut(BaseModel):
    """One audit entry, with the hashes that chain it (one line of ``vigil audit export``)."""

    model_config = ConfigDict(frozen=True)

    seq: int = Field(description="Its position in the chain, from 1.")
    at: datetime = Field(description="When it happened (UTC).")
    actor: str = Field(description="A user id, `device:<id>`, `system` or `anonymous`.")
    action: str = Field(description="What was done, as a dotted name: `user.signed_in`, `alert.probe_viewed`.")
    record_type: str = Field(description="The kind of record concerned: `user`, `alert`, `device`, `audit`.")
    record_id: str | None = Field(description="Which record.")
    address: str | None = Field(description="The client's address as the server saw it; None from the command line.")
    details: dict[str, Any] = Field(description="Ids, counts and flags; never biometric data.")
    prev_hash: str = Field(description="The previous entry's hash (64 zeros for the first).")
    hash: str = Field(description="SHA-256 of prev_hash and this entry's canonical content, hex.")


class AuditPage(BaseModel):
    """A page of the audit trail in chain order."""

    entries: list[AuditEntryOut]
    next_after: int = Field(description="Pass as `after` for the next page; a short page is the last for now.")


class ProblemKind(StrEnum):
    """What verification found wrong with the chain."""

    EDITED = "edited"
    MISSING = "missing"
    OUT_OF_ORDER = "out_of_order"
    REWRITTEN = "rewritten"
    CUT_OFF = "cut_off"


class ChainProblem(BaseModel):
    """One break in the chain, and where."""

    model_config = ConfigDict(frozen=True)

    kind: ProblemKind
    seq: int = Field(description="The entry concerned (for missing entries: the first one missing).")
    message: str = Field(description="For a person: what is wrong.")
    missing_seqs: list[int] = Field(default_factory=list, description="For missing entries: their numbers.")
    written_after: int | None = Field(
        None, description="For an entry out of order: the entry it was written after (it now follows another)."
    )
    checkpoint: int | None = Field(
        None, description="For entries rewritten or cut off: the number of the checkpoint that disagrees."
    )


class CheckpointProblem(BaseModel):
    """A line of the checkpoint store that was refused, or a checkpoint missing from it."""

    model_config = ConfigDict(frozen=True)

    line: int = Field(description="The line of the store, from 1.")
    checkpoint: int | None = Field(description="The checkpoint's number, when the line could be read.")
    message: str = Field(description="For a person: what is wrong.")


class AnchorReport(BaseModel):
    """What the checkpoints kept outside the database say about the trail."""

    store: Path = Field(description="The checkpoint store read.")
    key_id: str = Field(description="The key the checkpoints were checked with.")
    checkpoints: int = Field(description="Checkpoints signed by that key and checked against the trail.")
    last_seq: int | None = Field(description="The last entry the newest checkpoint signed; None without one.")
    last_at: datetime | None = Field(description="When the newest checkpoint was signed (UTC).")
    unanchored: int = Field(
        description=(
            "Entries after the newest checkpoint: they could still be cut off or rewritten without trace, unless "
            "a copy of the store was kept off the machine since."
        )
    )
    refused: list[CheckpointProblem] = Field(
        description="Store lines refused (not signed by the key, changed, malformed) and checkpoints missing."
    )


class ChainReport(BaseModel):
    """The outcome of checking every entry's hash and link."""

    intact: bool = Field(
        description="True when no entry was edited, removed, moved or cut off, and no checkpoint was refused."
    )
    entries: int = Field(description="Entries checked.")
    head_seq: int | None = Field(description="The last entry's number; None for an empty trail.")
    head_hash: str | None = Field(
        description="The last entry's hash: keep it elsewhere, to show later that nothing was cut off the end."
    )
    problems: list[ChainProblem]
    more_problems: bool = Field(False, description="True when there were more problems than listed.")
    anchor: AnchorReport | None = Field(
        None, description="The check against signed checkpoints; None when no checkpoint store was given."
    )


class AuditExport(BaseModel):
    """What ``vigil audit export`` wrote."""

    path: Path
    entries: int
    first_seq: int | None
    last_seq: int | None
    last_hash: str | None
