"""Handing the memory a large decode freed back to the operating system.

glibc's allocator keeps freed memory for reuse rather than returning it: each thread has its own arena, and
blocks below the mmap threshold (which rises to 32 MiB once a large block is freed) stay in it. A server whose
threads decode a few large photos would keep their peak for good (the finding: three enrolments at once left the
server at 2.2 GB). ``malloc_trim(0)`` returns every arena's free pages; elsewhere (macOS, musl) there is no such
call and nothing is done.
"""

import ctypes
import logging

_log = logging.getLogger(__name__)


def return_freed_memory() -> bool:
    """Return the memory the process has freed to the operating system, where the C library allows it.

    Returns:
        True when glibc's ``malloc_trim`` ran and released memory; False when it released none or the C library
        has no such call.
    """
    try:
        # The process's own symbols, the C library's among them.
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    released = bool(trim(0))
    _log.debug("memory.trimmed", extra={"released": released})
    return released
