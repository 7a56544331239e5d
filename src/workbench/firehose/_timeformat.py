"""Java ``DateTimeFormatter`` patterns, the language of Firehose's ``!{timestamp:...}``.

Python's ``strftime`` speaks another language (``%Y`` for ``yyyy``), so the patterns are
translated here: letters repeat to choose a width, text in single quotes is literal, ``''`` is a
quote, and anything else that is not a letter passes through.
"""

from __future__ import annotations

import re
from datetime import datetime

from workbench.errors import InvalidArgumentException

_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]  # fmt: skip
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_TOKEN = re.compile(r"'(?:[^']|'')*'|([A-Za-z])\1*|.", re.DOTALL)


def _year(dt: datetime, n: int) -> str:
    return f"{dt.year % 100:02d}" if n == 2 else f"{dt.year:0{n}d}"


def _number(value: int, n: int) -> str:
    return f"{value:0{n}d}"


def _text(names: list[str], index: int, n: int) -> str:
    return names[index] if n >= 4 else names[index][:3]


_FIELDS = {
    "y": _year,
    "u": _year,
    "M": lambda dt, n: _text(_MONTHS, dt.month - 1, n) if n >= 3 else _number(dt.month, n),
    "L": lambda dt, n: _text(_MONTHS, dt.month - 1, n) if n >= 3 else _number(dt.month, n),
    "d": lambda dt, n: _number(dt.day, n),
    "D": lambda dt, n: _number(dt.timetuple().tm_yday, n),
    "H": lambda dt, n: _number(dt.hour, n),
    "k": lambda dt, n: _number(dt.hour or 24, n),
    "h": lambda dt, n: _number(dt.hour % 12 or 12, n),
    "K": lambda dt, n: _number(dt.hour % 12, n),
    "m": lambda dt, n: _number(dt.minute, n),
    "s": lambda dt, n: _number(dt.second, n),
    "S": lambda dt, n: f"{dt.microsecond:06d}"[:n].ljust(n, "0"),
    "a": lambda dt, n: "AM" if dt.hour < 12 else "PM",
    "E": lambda dt, n: _text(_DAYS, dt.weekday(), n),
    "e": lambda dt, n: _number(dt.isoweekday(), n),
    "w": lambda dt, n: _number(dt.isocalendar().week, n),
    "Q": lambda dt, n: _number((dt.month - 1) // 3 + 1, n),
    # Firehose evaluates timestamps in UTC: the offsets are zero.
    "X": lambda dt, n: "Z",
    "x": lambda dt, n: "+00" if n == 1 else ("+0000" if n in (2, 4) else "+00:00"),
    "Z": lambda dt, n: "+0000" if n <= 3 else "GMT" if n == 4 else "Z",
    "V": lambda dt, n: "UTC",
    "z": lambda dt, n: "UTC",
}


def check_pattern(pattern: str) -> None:
    """Raise InvalidArgumentException unless ``pattern`` is a pattern this module can format."""
    for match in _TOKEN.finditer(pattern):
        token = match.group(0)
        if token.startswith("'") and (len(token) < 2 or not token.endswith("'")):
            raise InvalidArgumentException(
                f"Unterminated quoted literal in the timestamp pattern {pattern!r}."
            )
        letter = match.group(1)
        if letter and letter not in _FIELDS:
            raise InvalidArgumentException(
                f"Pattern letter {letter!r} in {pattern!r} is not supported; use Java "
                f"DateTimeFormatter letters such as yyyy, MM, dd, HH, mm, ss, SSS, EEE and text "
                f"in single quotes. Supported letters: {''.join(sorted(_FIELDS))}."
            )
    if pattern.count("'") % 2:
        raise InvalidArgumentException(
            f"Unterminated quoted literal in the timestamp pattern {pattern!r}."
        )


def format_instant(pattern: str, dt: datetime) -> str:
    """``dt`` formatted with a Java DateTimeFormatter pattern.

    >>> from datetime import UTC, datetime
    >>> moment = datetime(2026, 3, 7, 9, 5, 2, tzinfo=UTC)
    >>> format_instant("yyyy/MM/dd/HH/", moment)
    '2026/03/07/09/'
    >>> format_instant("'year='yyyy'/month='M'/'EEE", moment)
    'year=2026/month=3/Sat'
    >>> format_instant("HH:mm:ss 'o''clock'", moment)
    "09:05:02 o'clock"
    """
    check_pattern(pattern)
    out = []
    for match in _TOKEN.finditer(pattern):
        token = match.group(0)
        if token.startswith("'"):
            out.append(token[1:-1].replace("''", "'") if token != "''" else "'")
        elif match.group(1):
            out.append(_FIELDS[match.group(1)](dt, len(token)))
        else:
            out.append(token)
    return "".join(out)
