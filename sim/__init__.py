"""xpusim: a discrete-event model of the economics of cloud AI accelerators."""

from __future__ import annotations

__all__ = ["__version__"]

_version: list[str] = []


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed package's metadata when first asked for
    (importlib.metadata is not imported by a command that never asks)."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if not _version:
        from importlib.metadata import PackageNotFoundError, version

        try:
            _version.append(version("xpusim"))
        except PackageNotFoundError:  # running from a source tree that was not installed
            _version.append("0.0.0+unknown")
    return _version[0]
