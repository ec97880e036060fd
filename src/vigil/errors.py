"""The root of every error Vigil raises on purpose.

Each part has its own ``errors.py`` with one base class deriving from :class:`VigilError`
(``VisionError``, ``WatchlistError``, ``BusError`` …). The command line catches ``VigilError`` at its
boundary, prints the message and exits non-zero; anything else is a bug and keeps its traceback.
This module is the one piece of Vigil every part may import.
"""


class VigilError(Exception):
    """An expected failure whose message tells a person what to do about it."""
