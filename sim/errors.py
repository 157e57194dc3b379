"""Errors a user can cause, each carrying where it happened (file, line, key path)."""

from __future__ import annotations


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
        return "".join(parts)


class ScenarioError(UserError):
    """A scenario file, --set override or catalog entry that is not valid.

    ``details`` lists every problem found (one line each, first one first) when a
    validation found several; the error itself describes the first.
    """
