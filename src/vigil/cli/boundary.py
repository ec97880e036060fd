"""The command boundary: Vigil's expected errors end a command with their message, not a traceback."""

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from pydantic import ValidationError

from vigil.errors import VigilError

P = ParamSpec("P")
R = TypeVar("R")


def exits_on_vigil_error(command: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command so that a :class:`VigilError` prints ``error: <message>`` to stderr and exits with 1.

    A pydantic ``ValidationError`` here comes from the command's own options turned into settings or records
    (a legal basis too short, a port out of range): it is printed field by field and exits with 2, as any other
    bad option does. Any other exception is a bug and keeps its traceback.
    """

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except VigilError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=1) from None
        except ValidationError as exc:
            for problem in exc.errors():
                field = ".".join(str(part) for part in problem["loc"]) or exc.title
                typer.echo(f"error: {field}: {problem['msg']}", err=True)
            raise typer.Exit(code=2) from None

    return run
