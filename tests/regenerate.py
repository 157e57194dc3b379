"""Regenerate the expected outputs the tests compare with, after an intended change.

    python -m tests.regenerate goldens   # tests/goldens/<scenario>.json (shortened runs)
    python -m tests.regenerate images    # tests/baseline_images/<figure>.png
    python -m tests.regenerate notebook  # examples/api_tour.ipynb from examples/api_tour.py

The tests never write what they compare with: a golden or an image that differs, or is
missing, fails them. This script is the only writer, run by hand, and it refuses to run
when the ``CI`` environment variable is set, so an update can never make CI pass. Review
the diff of tests/goldens/ and look at the images before committing them.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
WHAT = ("goldens", "images", "notebook")


def goldens() -> list[Path]:
    """Rewrite tests/goldens/<name>.json for every shipped scenario."""
    from tests.test_scenarios import GOLDENS, NAMES, golden_record, golden_text

    GOLDENS.mkdir(exist_ok=True)
    written = []
    for name in NAMES:
        path = GOLDENS / f"{name}.json"
        path.write_text(golden_text(golden_record(name)), encoding="utf-8")
        written.append(path)
    return written


def images(tmp: Path) -> list[Path]:
    """Rewrite tests/baseline_images/<name>.png for every figure the tests compare."""
    from sim.views.style import save_figure
    from tests.test_plotting import BASELINE_FIGURES, BASELINES, baseline_figure

    BASELINES.mkdir(exist_ok=True)
    written = []
    for name in BASELINE_FIGURES:
        (drawn,) = save_figure(baseline_figure(name), tmp / name, ["png"])
        path = BASELINES / f"{name}.png"
        path.write_bytes(drawn.read_bytes())
        written.append(path)
    return written


def notebook() -> list[Path]:
    """Rewrite examples/api_tour.ipynb with the cells of examples/api_tour.py."""
    from tests.test_api import NOTEBOOK, SCRIPT, notebook_text

    NOTEBOOK.write_text(notebook_text(SCRIPT.read_text(encoding="utf-8")), encoding="utf-8")
    return [NOTEBOOK]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tests.regenerate goldens|images|notebook``: the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if os.environ.get("CI"):
        print("regenerate: refusing to rewrite expected outputs in CI (CI is set)", file=sys.stderr)
        return 2
    if len(args) != 1 or args[0] not in WHAT:
        print("usage: python -m tests.regenerate goldens|images|notebook", file=sys.stderr)
        return 2
    if args[0] == "goldens":
        written = goldens()
    elif args[0] == "notebook":
        written = notebook()
    else:
        with tempfile.TemporaryDirectory() as tmp:
            written = images(Path(tmp))
    for path in written:
        print(path.relative_to(HERE.parent))
    print(f"review the changes before committing: git diff --stat {HERE.name}/", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
