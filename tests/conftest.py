"""Test-suite settings shared by every module.

Hypothesis profiles: the default is derandomised, so the suite draws the same examples on
every machine and a CI run is reproducible like any xpusim run. ``HYPOTHESIS_PROFILE=explore``
draws fresh random examples on each run to hunt for new failures (with ``XPUSIM_REDUCED``
unset the invariants test also draws more); a failure it finds becomes an explicit
regression test, as ``test_idle_months_book_no_negative_hours`` did.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("default", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
