"""The ``xpusim`` command line (also ``python -m sim``): one module per command group.

Every command that takes a scenario accepts ``--set a.b.c=value`` (repeatable). Errors in
user input are printed as one ``error: <file>:<line>: ...`` line on stderr with exit
status 2 and no traceback (:mod:`sim.cli.common`). The commands that draw import matplotlib
only when they run; ``xpusim run`` imports no plotting, Dask, SALib or optimiser.
"""

from sim.cli.app import app, main

__all__ = ["app", "main"]
