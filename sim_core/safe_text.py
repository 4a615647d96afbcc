"""Text from a user's file made safe to print: one line, no control characters, bounded length.

Scenario names, keys, paths and trace cells are echoed in messages. A key holding ESC ``[2J``
would clear the terminal, a newline would split one problem over two lines, and a
100,000-character key would bury the message; ``printable`` escapes the first two and ``cut``
bounds the last.
"""

from __future__ import annotations

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
