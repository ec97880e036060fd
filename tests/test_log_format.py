import logging
import sys

from vigil.cli.log_format import FactsFormatter


def _record(message: str, **facts: object) -> logging.LogRecord:
    record = logging.LogRecord("vigil.test", logging.WARNING, __file__, 1, message, None, None)
    record.__dict__.update(facts)
    return record


def test_the_facts_logged_with_a_message_follow_it() -> None:
    formatter = FactsFormatter("%(levelname)s %(name)s %(message)s")
    line = formatter.format(_record("scheduler.job_failed", job="audit_checkpoint", reason="the trail diverges"))
    assert line == "WARNING vigil.test scheduler.job_failed job='audit_checkpoint' reason='the trail diverges'"
    assert formatter.format(_record("plain")) == "WARNING vigil.test plain"


def test_a_traceback_stays_below_the_line_and_its_facts() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = _record("failed", step="migrate")
        record.exc_info = sys.exc_info()
    first, *rest = FactsFormatter("%(message)s").format(record).splitlines()
    assert first == "failed step='migrate'"
    assert rest[0].startswith("Traceback")
    assert rest[-1] == "ValueError: boom"
