"""Many rows into one table in one driver call, for ingestion's hottest tables.

SQLAlchemy's ``insert()`` with a list of parameter dictionaries costs some fifteen microseconds a row in Python
(building each row's parameters, looking up and applying each column's type conversion), which at thousands of
positions a second is most of the server's time. :func:`bulk_insert` does that work once a call: it takes each
column's type conversion from SQLAlchemy itself (the conversions an ORM insert applies: UUIDs, UTC datetimes,
enums), applies them in one loop, and hands the driver plain tuples: on PostgreSQL through ``COPY … FROM
STDIN`` (one round trip, the server's fastest way in), elsewhere as one ``executemany`` of an INSERT in the
driver's parameter style. The rows are stored exactly as the models define them.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

_MARKERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def bulk_insert(
    *,
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    same_for_all: Mapping[str, Any] | None = None,
) -> None:
    """Insert the rows in the session's transaction; the caller commits.

    Args:
        session: the session whose transaction takes the rows.
        table: where they go.
        columns: the columns each row gives, in order.
        rows: one tuple per row, its values in the order of ``columns``.
        same_for_all: columns whose value is the same in every row (converted once, not per row).

    Raises:
        ValueError: a column the table does not have, or a driver whose parameter style is not supported.
    """
    if not rows:
        return
    constants = dict(same_for_all or {})
    unknown = [name for name in (*columns, *constants) if name not in table.c]
    if unknown:
        raise ValueError(f"table {table.name} has no column(s) {unknown}")
    connection = session.connection()
    dialect = connection.dialect

    def converter(name: str) -> Callable[[Any], Any] | None:
        return table.c[name].type.dialect_impl(dialect).bind_processor(dialect)

    converters = [converter(name) for name in columns]
    tail = tuple(value if (convert := converter(name)) is None else convert(value) for name, value in constants.items())
    converted = [
        tuple(value if convert is None else convert(value) for convert, value in zip(converters, row, strict=True))
        + tail
        for row in rows
    ]
    quote = dialect.identifier_preparer
    every_column = (*columns, *constants)
    names = ", ".join(quote.quote(name) for name in every_column)
    if dialect.name == "postgresql":
        statement = f"COPY {quote.format_table(table)} ({names}) FROM STDIN"
        cursor = connection.connection.cursor()
        try:
            with cursor.copy(statement) as copy:
                for row in converted:
                    copy.write_row(row)
        except dialect.loaded_dbapi.Error as exc:
            # The driver's own error, as SQLAlchemy would have wrapped it (an IntegrityError for a racing copy).
            raise DBAPIError.instance(statement, None, exc, dialect.loaded_dbapi.Error, dialect=dialect) from exc
        finally:
            cursor.close()
        return
    marker = _MARKERS.get(dialect.paramstyle)
    if marker is None:
        raise ValueError(f"the {dialect.name} driver's parameter style {dialect.paramstyle!r} is not supported")
    markers = ", ".join([marker] * len(every_column))
    statement = f"INSERT INTO {quote.format_table(table)} ({names}) VALUES ({markers})"
    connection.exec_driver_sql(statement, converted)
