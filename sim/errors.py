"""Errors a user can cause, each carrying where it happened (file, line, key path)."""

from __future__ import annotations

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: object, *, multiline: bool = False) -> str:
    r"""``text`` safe to show: every character Python does not deem printable as an escape.

    That is control and format characters (escape, bell, NUL, bidirectional overrides),
    separators other than the space, and unassigned code points. Every message and every
    user string (key, value, file name) shown on a terminal, page or figure goes through
    this, so an escape sequence from a scenario never reaches a terminal raw and a message
    stays on one line. ``multiline`` keeps line breaks and tabs (``xpusim show``, figures).

    >>> print(printable("key\x1b[31m\x07 a\nb\u202e"))
    key\x1b[31m\x07 a\nb\u202e
    >>> printable("plain text, ünïcode and 'quotes'")
    "plain text, ünïcode and 'quotes'"
    >>> printable("a:\n\tb: \x00", multiline=True)
    'a:\n\tb: \\x00'
    """
    text = str(text)
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable() or (multiline and ch in "\n\t"):
            out.append(ch)
        elif ch in _NAMED:
            out.append(_NAMED[ch])
        else:
            code = ord(ch)
            if code < 0x100:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    return "".join(out)


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

    def lines(self) -> list[str]:
        """Every problem found (``details``, the first being this error itself), one line
        each; the error alone when it found one."""
        if not self.details:
            return [" ".join(str(self).splitlines())]
        return [printable(" ".join(d.splitlines())) for d in self.details]


class ScenarioError(UserError):
    """A scenario file, --set override or catalog entry that is not valid.

    ``details`` lists every problem found (one line each, first one first) when a
    validation found several; the error itself describes the first.
    """
