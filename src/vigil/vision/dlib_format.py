"""dlib's serialisation format (``dlib/serialize.h``, ``dlib/dnn/tensor.h``), read from bytes in memory.

dlib writes every value in a compact, self-delimiting form; nothing in the stream says what type comes next,
so the caller reads values in the order the writer wrote them (as dlib's own ``deserialize`` does):

=============== ==========================================================================================
value            encoding
=============== ==========================================================================================
integer          one control byte (bits 0–3: byte count n, bit 7: negative), then n little-endian bytes of
                 the magnitude; zero is ``01 00``
float / double   two integers, a mantissa (int64) and an exponent (int16): ``mantissa · 2**exponent``;
                 exponents 32000, 32001 and 32002 stand for +inf, −inf and NaN
bool             the ASCII character ``'0'`` or ``'1'``
string           its length (an integer), then that many bytes
tensor           version 2 (an integer), the dimensions n, k, nr, nc (integers), then n·k·nr·nc
                 little-endian IEEE float32 values
alias tensor     version 1 (an integer), then its dimensions n, k, nr, nc (integers); no data
=============== ==========================================================================================
"""

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vigil.vision.errors import ModelFormatError, ModelTruncated

_FLOAT_INF_EXPONENT = 32000
_FLOAT_NINF_EXPONENT = 32001
_FLOAT_NAN_EXPONENT = 32002
_TENSOR_VERSION = 2
_ALIAS_TENSOR_VERSION = 1
_MAX_TENSOR_VALUES = 1 << 28  # 1 GiB of float32: far beyond any layer of a face network, refused unread


class DlibReader:
    """Reads dlib-serialised values one after another from an in-memory file.

    Every read either returns a value or raises :class:`~vigil.vision.errors.ModelTruncated` (the data ends
    part way) or :class:`~vigil.vision.errors.ModelFormatError` (the bytes cannot be what was asked for).
    Both carry the file's path and the byte offset where reading failed.
    """

    def __init__(self, data: bytes, *, path: Path) -> None:
        """Start reading at the first byte.

        Args:
            data: the whole file.
            path: where the bytes came from, for error messages.
        """
        self._data = data
        self._path = path
        self._offset = 0

    @property
    def path(self) -> Path:
        """The file being read."""
        return self._path

    @property
    def offset(self) -> int:
        """Bytes read so far."""
        return self._offset

    @property
    def remaining(self) -> int:
        """Bytes not read yet."""
        return len(self._data) - self._offset

    def fail(self, message: str) -> ModelFormatError:
        """An error for something wrong at the current offset, to raise."""
        return ModelFormatError(message, path=self._path, offset=self._offset)

    def take(self, count: int, what: str) -> bytes:
        """The next ``count`` bytes.

        Raises:
            ModelTruncated: fewer than ``count`` bytes remain.
        """
        if count > self.remaining:
            raise ModelTruncated(
                f"the file ends while reading {what}: {count:,} bytes needed, {self.remaining:,} left",
                path=self._path,
                offset=self._offset,
            )
        chunk = self._data[self._offset : self._offset + count]
        self._offset += count
        return chunk

    def read_int(self, what: str, *, max_bytes: int = 8, signed: bool = True) -> int:
        """An integer of at most ``max_bytes`` bytes (4 for ``int``, 8 for ``long``, 2 for ``int16``)."""
        start = self._offset
        control = self.take(1, what)[0]
        negative = bool(control & 0x80)
        size = control & 0x0F
        if control & 0x70 or size == 0 or size > max_bytes or (negative and not signed):
            self._offset = start
            raise self.fail(f"byte 0x{control:02x} cannot start {what} (an integer of at most {max_bytes} bytes)")
        magnitude = int.from_bytes(self.take(size, what), "little")
        return -magnitude if negative else magnitude

    def read_float(self, what: str) -> float:
        """A ``float`` or ``double`` in dlib's portable (mantissa, exponent) form."""
        mantissa = self.read_int(f"the mantissa of {what}")
        exponent = self.read_int(f"the exponent of {what}", max_bytes=2)
        if exponent < _FLOAT_INF_EXPONENT:
            return math.ldexp(float(mantissa), exponent)
        if exponent == _FLOAT_INF_EXPONENT:
            return math.inf
        if exponent == _FLOAT_NINF_EXPONENT:
            return -math.inf
        return math.nan

    def read_bool(self, what: str) -> bool:
        """A bool, stored as the character ``'0'`` or ``'1'``."""
        start = self._offset
        value = self.take(1, what)
        if value not in (b"0", b"1"):
            self._offset = start
            raise self.fail(f"byte 0x{value[0]:02x} is not a bool ('0' or '1') for {what}")
        return value == b"1"

    def read_string(self, what: str) -> str:
        """A string: its length, then its bytes (dlib writes layer names and versions this way)."""
        length = self.read_int(f"the length of {what}", signed=False)
        raw = self.take(length, what)
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise self.fail(f"{what} is not ASCII text") from exc

    def expect_string(self, expected: str, what: str) -> None:
        """Read a string and check it is ``expected`` (dlib's layer names double as format versions).

        Raises:
            ModelFormatError: the string differs.
        """
        start = self._offset
        found = self.read_string(what)
        if found != expected:
            self._offset = start
            raise self.fail(f"expected {what} {expected!r}, found {found!r}")

    def expect_int(self, expected: int, what: str, *, max_bytes: int = 8) -> None:
        """Read an integer and check it is ``expected`` (versions, sizes fixed by the network's definition).

        Raises:
            ModelFormatError: the integer differs.
        """
        start = self._offset
        found = self.read_int(what, max_bytes=max_bytes)
        if found != expected:
            self._offset = start
            raise self.fail(f"expected {what} {expected}, found {found}")

    def read_tensor(self, what: str) -> npt.NDArray[np.float32]:
        """A tensor (``resizable_tensor``), shape (n, k, nr, nc)."""
        self.expect_int(_TENSOR_VERSION, f"the format version of {what}", max_bytes=4)
        shape = tuple(self.read_int(f"a dimension of {what}") for _ in range(4))
        if any(size < 0 for size in shape) or math.prod(shape) > _MAX_TENSOR_VALUES:
            raise self.fail(f"{what} has impossible dimensions {shape}")
        values = np.frombuffer(self.take(4 * math.prod(shape), f"the values of {what}"), dtype="<f4")
        return values.astype(np.float32).reshape(shape)

    def read_alias_tensor(self, what: str) -> tuple[int, int, int, int]:
        """An ``alias_tensor``: only the shape (n, k, nr, nc) of a view into a layer's parameters."""
        self.expect_int(_ALIAS_TENSOR_VERSION, f"the format version of {what}", max_bytes=4)
        n, k, nr, nc = (self.read_int(f"a dimension of {what}") for _ in range(4))
        return n, k, nr, nc
