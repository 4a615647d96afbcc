"""Text from a user's file made safe to print: one line, no control characters, bounded length.

Scenario names, keys, paths and trace cells are echoed in messages. A key holding ESC ``[2J``
would clear the terminal, a newline would split one problem over two lines, and a
100,000-character key would bury the message; ``printable`` escapes the first two and ``cut``
bounds the last.
"""

from __future__ import annotations

import json
from typing import Any

MAX_SHOWN = 60  # characters of a key, name or value shown in a message
MAX_LINE = 400  # characters of one message line


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with control, format (bidi overrides), separator-line and surrogate characters
    written as ``\\x1b``-style escapes; printable text (any script) is left as it is."""
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char.isprintable():  # False for controls, format (bidi), line separators, surrogates
            out.append(char)
        else:
            out.append(_escape(char))
    return "".join(out)


def cut(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` made printable and cut to about ``limit`` characters, saying how long it was."""
    shown = printable(text[: limit + 1])
    if len(text) <= limit and len(shown) <= limit * 4:
        return shown
    return f"{printable(text[: limit - 10])}... ({len(text)} characters)"


def one_line(message: str, limit: int = MAX_LINE) -> str:
    """A message as one printable line of at most about ``limit`` characters."""
    text = printable(message)
    if len(text) <= limit:
        return text
    return text[: limit - 25] + f"... ({len(text)} characters)"


class HugeNumber(float):
    """A JSON number literal too long to be read exactly (Python refuses ints over 4,300 digits).

    Its value is the nearest float (often infinite) so range checks fail as for any big number,
    and it prints as ``a number of N digits`` instead of the digits.
    """

    digits: int = 0

    def __str__(self) -> str:
        return f"a number of {self.digits} digits"

    __repr__ = __str__


def shown_number(value: float) -> str:
    """A number as a message shows it: 3, not 3.0; 0.25 as 0.25."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def shown_value(value: Any) -> str:
    """A value from a user's file as a message echoes it: short, quoted text, bounded JSON, 2.0 kept as 2.0."""
    if isinstance(value, HugeNumber):
        return str(value)
    if isinstance(value, str):
        return repr(value) if len(value) < 60 else repr(value[:57] + "...")
    if isinstance(value, (dict, list)):
        try:
            text = json.dumps(value)
        except (ValueError, RecursionError):
            text = "{...}" if isinstance(value, dict) else "[...]"
        return text if len(text) < 60 else text[:57] + "..."
    if isinstance(value, float):
        text = f"{value:g}"
        return text + ".0" if value.is_integer() and "e" not in text else text  # 2.0 stays 2.0, not 2
    return repr(value) if isinstance(value, bool) or value is None else str(value)
