"""Queries about a batch of values on the ingestion path: one statement whatever the number of values.

SQLAlchemy renders an ``IN`` list anew for each call, a parameter per value, and PostgreSQL sees a new statement
for each length, which it parses and plans again. Ingestion asks about a batch's devices and units in every
transaction, a different number each time. On PostgreSQL :func:`one_of` sends the values as one array instead
(``column = ANY(:values)``): one statement text, prepared once by the driver, and no per-value work in Python.
SQLite has no arrays and plans in microseconds: there it is the plain ``IN``.

:func:`stored` looks keys up in a table that grows while the server runs (events' and alerts' ids). The
driver prepares a statement it has run five times, and PostgreSQL may then keep one generic plan for it: a plan
made while the table held a few hundred rows scans it whole, and is kept until the table is next analysed (up to
a minute of autovacuum's nap, or longer). Measured: the lookup of a batch's 100 event ids grew from 0.9 to 5.9 ms
over 100,000 events on a new database. :func:`stored` is therefore never prepared: PostgreSQL plans it for the
values given, an index lookup per key at any size, for about 0.1 ms.
"""

from collections.abc import Collection
from typing import Any, TypeVar

import psycopg
from sqlalchemy import ColumnElement, any_, bindparam, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")


def one_of(session: Session, column: InstrumentedAttribute[Any], values: Collection[Any]) -> ColumnElement[bool]:
    """The condition that ``column`` holds one of ``values`` (none: always false), for ``session``'s database."""
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(values)
    return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))


def stored(session: Session, column: InstrumentedAttribute[T], values: Collection[T]) -> set[T]:
    """Which of ``values`` are in ``column`` (a key of its table), in ``session``'s transaction; one query.

    Raises:
        DBAPIError: the database failed (as SQLAlchemy raises it: an ``OperationalError`` when unavailable).
    """
    if not values:
        return set()
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql":
        return set(session.scalars(select(column).where(column.in_(values))))
    quote = dialect.identifier_preparer
    name = quote.quote(column.name)
    statement = f"SELECT {name} FROM {quote.format_table(column.table)} WHERE {name} = ANY(%s)"
    driver = connection.connection.driver_connection
    if not isinstance(driver, psycopg.Connection):
        raise TypeError(f"PostgreSQL is reached through psycopg 3, not {type(driver).__name__}")
    try:
        with driver.cursor() as cursor:
            cursor.execute(statement, (list(values),), prepare=False)  # planned for these values: see the module
            return {row[0] for row in cursor.fetchall()}
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error, dialect=dialect) from exc
