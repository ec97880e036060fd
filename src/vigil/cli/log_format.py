"""Log lines a person can read: the message, then the facts the code logged with it (``extra=``) as key=value."""

import logging

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class FactsFormatter(logging.Formatter):
    """Formats as the given format, followed by each fact passed in ``extra``: ``key=value``, in the order given."""

    def format(self, record: logging.LogRecord) -> str:
        """The line: the format's text, then the record's own facts."""
        line = super().format(record)
        facts = " ".join(f"{key}={value!r}" for key, value in vars(record).items() if key not in _STANDARD)
        if not facts:
            return line
        first, newline, rest = line.partition("\n")  # a traceback stays below the line it belongs to
        return f"{first} {facts}{newline}{rest}"


def log_to_stderr(level: int, fmt: str) -> None:
    """Send logging to standard error in ``fmt``, with each record's facts after its message."""
    logging.basicConfig(level=level)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(FactsFormatter(fmt))
