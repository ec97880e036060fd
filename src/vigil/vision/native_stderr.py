"""Lines a native library prints on standard error that tell a person nothing, kept off it.

LiteRT (the BlazeFace runtime) prints ``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.`` from C++ the first
time a process prepares a model, whatever Python's logging says, and no setting of the runtime turns it off. While
a block runs, :func:`withholding_stderr_lines` points file descriptor 2 at a temporary file; afterwards everything
written there (by any thread) goes to the real standard error, in order, less the lines named.
"""

import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Two blocks at once would each take the other's file for the real standard error.
_ONE_AT_A_TIME = threading.Lock()


@contextmanager
def withholding_stderr_lines(*lines: bytes) -> Iterator[None]:
    """Run the block with these exact lines (without their newline) kept off standard error."""
    with _ONE_AT_A_TIME, tempfile.TemporaryFile() as capture:
        sys.stderr.flush()
        real = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(real, 2)
            os.close(real)
            capture.seek(0)
            kept = [line for line in capture.read().splitlines(keepends=True) if line.rstrip(b"\r\n") not in lines]
            if kept:
                os.write(2, b"".join(kept))
