"""Whether two embedders are interchangeable: the same vectors, and the same decisions, on the same chips."""

import numpy as np
from pydantic import BaseModel, Field

from vigil.vision.embedding import DEFAULT_THRESHOLD, Embeddings

MIN_COSINE = 0.9999
"""The lowest cosine similarity, chip by chip, at which two embedders count as computing the same vector."""


class EquivalenceReport(BaseModel):
    """How closely a candidate embedder reproduces a reference one on a set of chips."""

    chips: int = Field(description="Chips both embedders embedded.")
    pairs: int = Field(description="Pairs of chips whose same/different decisions were compared.")
    min_cosine: float = Field(description="Lowest cosine similarity between the two vectors of one chip.")
    max_abs_diff: float = Field(description="Largest difference of any one component of any vector.")
    max_distance_diff: float = Field(description="Largest difference between the two distances of one pair.")
    decisions_changed: int = Field(description="Pairs called the same person by one embedder and not the other.")
    threshold: float = Field(description="Distance at or below which a pair is called the same person.")
    min_cosine_required: float = Field(description="The cosine similarity every chip must reach.")

    @property
    def passed(self) -> bool:
        """Every chip reaches :attr:`min_cosine_required` and no decision changed."""
        return self.min_cosine >= self.min_cosine_required and self.decisions_changed == 0


def compare_embeddings(
    candidate: Embeddings,
    reference: Embeddings,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    min_cosine: float = MIN_COSINE,
) -> EquivalenceReport:
    """Compare two embedders' vectors for the same chips, row by row and over every pair of rows.

    Args:
        candidate: the embeddings under test, shape (n, 128).
        reference: the reference embeddings of the same chips, shape (n, 128).
        threshold: the same/different distance threshold.
        min_cosine: the cosine similarity every chip must reach to pass.

    Returns:
        The figures, with :attr:`EquivalenceReport.passed`.

    Raises:
        ValueError: the two arrays differ in shape, or hold no chips.
    """
    if candidate.shape != reference.shape or candidate.ndim != 2 or len(candidate) == 0:
        raise ValueError(f"need two equal, non-empty (n, d) arrays, got {candidate.shape} and {reference.shape}")
    ours = candidate.astype(np.float64)
    theirs = reference.astype(np.float64)
    norms = np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1)
    cosines = np.einsum("ij,ij->i", ours, theirs) / np.maximum(norms, np.finfo(np.float64).tiny)
    first, second = np.triu_indices(len(ours), k=1)
    our_distances = np.linalg.norm(ours[first] - ours[second], axis=1)
    their_distances = np.linalg.norm(theirs[first] - theirs[second], axis=1)
    return EquivalenceReport(
        chips=len(ours),
        pairs=len(first),
        min_cosine=float(cosines.min()),
        max_abs_diff=float(np.abs(ours - theirs).max()),
        max_distance_diff=float(np.abs(our_distances - their_distances).max(initial=0.0)),
        decisions_changed=int(((our_distances <= threshold) != (their_distances <= threshold)).sum()),
        threshold=threshold,
        min_cosine_required=min_cosine,
    )
