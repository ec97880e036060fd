"""Errors of the audit trail's checkpoints.

Hierarchy::

    AuditError                      (vigil.command.errors)
    ├── CheckpointKeyError          the checkpoint key file is missing, malformed, of the wrong kind or not private
    ├── CheckpointRefused           a line of a checkpoint store is not a checkpoint signed by the given key
    ├── CheckpointsNotConfigured    a checkpoint was asked for with no store or no key configured
    ├── CheckpointStoreError        the checkpoint store cannot be read or written, or its last checkpoint is refused
    └── TrailDiverges               the trail does not extend the last checkpoint: no new one is signed over it
"""

from pathlib import Path

from vigil.command.errors import AuditError


class CheckpointKeyError(AuditError):
    """The checkpoint key file is missing, malformed, of the wrong kind, or readable by others than its owner."""

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path


class CheckpointRefused(AuditError):
    """A line of a checkpoint store is not a checkpoint, was signed by another key, or was changed after signing."""


class CheckpointsNotConfigured(AuditError):
    """A checkpoint was asked for, and there is no store or no signing key to write it with."""


class CheckpointStoreError(AuditError):
    """The checkpoint store cannot be read or written, or its last checkpoint is refused (so none can follow it)."""

    def __init__(self, message: str, *, store: Path) -> None:
        super().__init__(message)
        self.store = store


class TrailDiverges(AuditError):
    """The audit trail in the database does not extend the last checkpoint: it was rewritten or cut since.

    No checkpoint is signed over it, so the evidence stays: ``vigil audit verify`` names what changed.
    """

    def __init__(self, message: str, *, checkpoint: int, seq: int) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint
        self.seq = seq
