"""xpusim: a discrete-event model of the economics of cloud AI accelerators."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("xpusim")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
