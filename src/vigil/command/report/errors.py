"""Errors of the public report: ``CommandError`` → ``ReportPeriodInvalid`` (the period ends before it starts; 422)."""

from vigil.command.errors import CommandError


class ReportPeriodInvalid(CommandError):
    """The report's period ends before it starts."""
