"""Errors a user can cause, each carrying where it happened (file, line, key path)."""

from __future__ import annotations

import re

# C0 and C1 control characters, DEL, line and paragraph separators, and the bidirectional
# formatting characters that can reorder what a terminal shows ("Trojan Source").
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, *, keep_newlines: bool = False) -> str:
    r"""``text`` safe to print on a terminal: control characters become visible escapes.

    Every message and every user string (key, value, file name) shown on a terminal goes
    through this, so an escape sequence, bell, NUL or newline in a scenario never reaches
    the terminal raw and a message stays on one line.

    >>> printable("key\x1b[31m\x07 a\nb\u202e")
    'key\\x1b[31m\\x07 a\\nb\\u202e'
    >>> printable("plain text, ünïcode and 'quotes'")
    "plain text, ünïcode and 'quotes'"
    >>> printable("a:\n  b: \x1b", keep_newlines=True)
    'a:\n  b: \\x1b'

    ``keep_newlines`` keeps line breaks of multi-line output (``xpusim show``).
    """
    if keep_newlines:
        return "\n".join(_UNSAFE.sub(_escape, line) for line in str(text).split("\n"))
    return _UNSAFE.sub(_escape, str(text))


class UserError(Exception):
    """An error in user input: reported as one clear message, exit status 2, no traceback."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
        expected: str | None = None,
        found: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.key = key
        self.expected = expected
        self.found = found
        self.hint = hint
        self.details: list[str] = []  # every problem found, when there were several

    def __str__(self) -> str:
        where = self.file or ""
        if self.file and self.line is not None:
            where = f"{self.file}:{self.line}"
        parts = [f"{where}: " if where else ""]
        if self.key:
            parts.append(f"key '{self.key}': ")
        parts.append(self.message)
        if self.expected is not None:
            parts.append(f"; expected {self.expected}")
        if self.found is not None:
            parts.append(f", found {self.found}")
        if self.hint:
            parts.append(f" ({self.hint})")
        return printable("".join(parts))


class ScenarioError(UserError):
    """A scenario file, --set override or catalog entry that is not valid.

    ``details`` lists every problem found (one line each, first one first) when a
    validation found several; the error itself describes the first.
    """
