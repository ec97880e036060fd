"""The cache of models Vigil converts on this machine: where they live, and how one gets there.

dlib's face network is converted to ONNX once (:mod:`vigil.vision.dlib_net`, :mod:`vigil.vision.onnx_export`),
checked against dlib itself, and only then moved into the cache under its final name. A file in the cache is
therefore always a verified model; a failed or interrupted build leaves nothing behind. The name carries the
source file's sha256 prefix and the converter's version, so a different ``.dat`` or a newer converter never
reuses a stale model. Beside each model a ``.sha256`` file records the digest of the bytes that were verified;
a cached model whose bytes no longer match (disk damage, a stray edit) is converted and verified again.

The check embeds the same chips with both networks: drawn faces (:mod:`vigil.vision.synthetic_faces`), always,
plus whatever real face chips the caller has (``vigil models build`` adds the project's test photos when it
finds them). Every chip's two vectors must have a cosine similarity of at least 0.9999, and every pair of chips
must get the same same/different decision from both.
"""

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from vigil.vision.dlib_net import read_dlib_network
from vigil.vision.embedding import DlibEmbedder, Embedder
from vigil.vision.equivalence import EquivalenceReport, compare_embeddings
from vigil.vision.errors import EmbedderVerificationFailed, ModelCacheUnwritable, ModelChecksumMismatch
from vigil.vision.image import RgbImage
from vigil.vision.models import DLIB_FACE_RECOGNITION, locate_model, verify_checksum
from vigil.vision.onnx_embedder import OnnxEmbedder
from vigil.vision.onnx_export import CONVERTER_VERSION, network_to_onnx
from vigil.vision.synthetic_faces import synthetic_face_chips

SYNTHETIC_CHIPS = 16
"""Drawn face chips every build is verified on (120 pairs, about a quarter of them "different")."""


class BuildVerification(BaseModel):
    """What a converted model was checked on, and how closely it matched dlib."""

    synthetic_chips: int = Field(description="Drawn face chips compared.")
    face_chips: int = Field(description="Chips of real faces compared (0 where no photos were at hand).")
    providers: list[str] = Field(description="ONNX Runtime execution providers the model ran on.")
    result: EquivalenceReport


class OnnxModelBuild(BaseModel):
    """A converted model in the cache, and how it got there."""

    path: Path = Field(description="The verified ONNX file.")
    source_sha256: str = Field(description="sha256 of the dlib .dat it was converted from.")
    built: bool = Field(description="True when this call converted it; False when it was already in the cache.")
    build_s: float | None = Field(description="Seconds spent reading, converting and verifying; null if not built.")
    verification: BuildVerification | None = Field(description="The check against dlib; null if not built.")


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/vigil/models``, or ``~/.cache/vigil/models`` when that variable is unset or relative."""
    xdg_cache = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg_cache) if xdg_cache and Path(xdg_cache).is_absolute() else Path.home() / ".cache"
    return base / "vigil" / "models"


_log = logging.getLogger(__name__)


def model_digest_path(model: Path) -> Path:
    """The file beside a cached model that holds the sha256 of the bytes that were verified."""
    return model.with_name(model.name + ".sha256")


def _is_intact(model: Path) -> bool:
    try:
        verify_checksum(model, model_digest_path(model).read_text(encoding="ascii").strip())
    except (OSError, ModelChecksumMismatch):
        return False
    return True


def converted_model_path(cache_dir: Path, source_sha256: str) -> Path:
    """Where the ONNX conversion of the ``.dat`` with this sha256 lives in ``cache_dir``."""
    return cache_dir / f"dlib_face_recognition_resnet_model_v1-{source_sha256[:16]}-c{CONVERTER_VERSION}.onnx"


def ensure_onnx_model(
    *,
    cache_dir: Path | None = None,
    threads: int = 1,
    face_chips: Callable[[], Sequence[RgbImage]] | None = None,
    force: bool = False,
) -> OnnxModelBuild:
    """The verified ONNX conversion of the installed dlib face model, converted now if the cache lacks it.

    Args:
        cache_dir: the model cache; default :func:`default_cache_dir`.
        threads: CPU threads for the verification run.
        face_chips: supplies real aligned face chips to verify on besides the drawn ones; called only when the
            model is converted.
        force: convert and verify again even when the cache has the model.

    Returns:
        Where the model is, and the build's figures when it was built.

    Raises:
        ModelError: the dlib model is missing or damaged, the cache cannot be written, or the conversion fails
            verification (:class:`~vigil.vision.errors.EmbedderVerificationFailed`).
    """
    directory = cache_dir or default_cache_dir()
    source = locate_model(DLIB_FACE_RECOGNITION)
    path = converted_model_path(directory, DLIB_FACE_RECOGNITION.sha256)
    if path.is_file() and not force:
        if _is_intact(path):
            return OnnxModelBuild(
                path=path, source_sha256=DLIB_FACE_RECOGNITION.sha256, built=False, build_s=None, verification=None
            )
        _log.warning("model_cache.damaged", extra={"path": str(path)})
    return build_onnx_model(
        source=source,
        expected_sha256=DLIB_FACE_RECOGNITION.sha256,
        cache_dir=directory,
        reference=DlibEmbedder(),
        face_chips=face_chips() if face_chips is not None else (),
        threads=threads,
    )


def build_onnx_model(
    *,
    source: Path,
    expected_sha256: str,
    cache_dir: Path,
    reference: Embedder,
    face_chips: Sequence[RgbImage] = (),
    threads: int = 1,
) -> OnnxModelBuild:
    """Convert a dlib face model to ONNX, verify it against a reference embedder and install it in the cache.

    Args:
        source: the dlib ``.dat`` file.
        expected_sha256: its expected sha256.
        cache_dir: the model cache; created if missing.
        reference: the embedder the conversion must reproduce (dlib's own network).
        face_chips: real aligned face chips to verify on, besides the drawn ones.
        threads: CPU threads for the verification run.

    Returns:
        The installed model and the verification figures.

    Raises:
        ModelFormatError: the ``.dat`` is cut short or holds another network.
        ModelChecksumMismatch: the ``.dat`` is not the expected file.
        ModelCacheUnwritable: the cache folder cannot be created or written.
        EmbedderVerificationFailed: the converted model's embeddings differ from the reference's; nothing is
            installed.
    """
    started = time.perf_counter()
    network = read_dlib_network(source, expected_sha256=expected_sha256)
    model = network_to_onnx(network).SerializeToString()
    destination = converted_model_path(cache_dir, network.sha256)
    partial = _write_partial(cache_dir, model)
    digest = _write_partial(cache_dir, hashlib.sha256(model).hexdigest().encode("ascii") + b"\n")
    try:
        candidate = OnnxEmbedder(partial, threads=threads)
        synthetic = synthetic_face_chips(SYNTHETIC_CHIPS)
        chips = [*synthetic, *face_chips]
        result = compare_embeddings(candidate.embed(chips), reference.embed(chips))
        if not result.passed:
            raise EmbedderVerificationFailed(
                f"the ONNX conversion of {source} does not reproduce dlib's embeddings: lowest cosine similarity "
                f"{result.min_cosine:.6f} (at least {result.min_cosine_required} needed), "
                f"{result.decisions_changed} of {result.pairs} same/different decisions changed; it was not "
                "installed. Use the dlib embedder (--embedder dlib) and report this as a bug",
                path=source,
                min_cosine=result.min_cosine,
                decisions_changed=result.decisions_changed,
            )
        try:
            os.replace(digest, model_digest_path(destination))
            os.replace(partial, destination)
        except OSError as exc:
            raise ModelCacheUnwritable(
                f"cannot install {destination.name} in {cache_dir}: {exc}", path=destination
            ) from exc
    finally:
        partial.unlink(missing_ok=True)
        digest.unlink(missing_ok=True)
    return OnnxModelBuild(
        path=destination,
        source_sha256=network.sha256,
        built=True,
        build_s=time.perf_counter() - started,
        verification=BuildVerification(
            synthetic_chips=len(synthetic), face_chips=len(face_chips), providers=candidate.providers, result=result
        ),
    )


def _write_partial(cache_dir: Path, content: bytes) -> Path:
    """Write ``content`` to a new hidden file in ``cache_dir``, flushed to disk, and return its path."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(dir=cache_dir, prefix=".", suffix=".onnx.partial")
    except OSError as exc:
        raise _unwritable(cache_dir, exc) from exc
    partial = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise _unwritable(cache_dir, exc) from exc
    return partial


def _unwritable(cache_dir: Path, exc: OSError) -> ModelCacheUnwritable:
    return ModelCacheUnwritable(
        f"cannot write a converted model to {cache_dir}: {exc}; pass a writable folder as --cache-dir "
        "(cache_dir in the settings) or set XDG_CACHE_HOME",
        path=cache_dir,
    )
