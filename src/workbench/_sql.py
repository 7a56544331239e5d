"""SQL text for names and values that come from users: quoted, so that any character is safe.

>>> print(identifier('a "b" c'), literal("it's"))
"a ""b"" c" 'it''s'
"""

from __future__ import annotations


def identifier(name: str) -> str:
    """``name`` as a quoted SQL identifier (a column or table name)."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
