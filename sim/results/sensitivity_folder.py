"""The sensitivity folder: ``sensitivity.json`` and ``manifest.json``, written whole.

``sensitivity.json`` is one object ``{metric, base, tornado, sobol, ...}`` for one metric,
or a list of them for several; :func:`read_sensitivities` always returns the list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sim.results.jsonio import pretty_json, read_json, sha256_of
from sim.results.manifest import MANIFEST, SWEEP_PACKAGES, build_manifest, utc_now
from sim.results.naming import default_folder
from sim.safeio import check_new_folder, staged_folder, write_text

__all__ = [
    "SENSITIVITY",
    "new_sensitivity_folder",
    "read_sensitivities",
    "write_sensitivity",
]

SENSITIVITY = "sensitivity.json"


def new_sensitivity_folder(out: Path | None, name: str, digest_of: Any) -> Path:
    """``out`` if given (it must be new or empty), else a fresh folder under results/.

    The default is ``results/<name>/sensitivity-<UTC stamp>-<hash of digest_of>``.
    """
    if out is not None:
        check_new_folder(out)
        return out
    return default_folder(name, "sensitivity-", utc_now(), sha256_of(digest_of, 8))


def write_sensitivity(
    folder: Path, results: Sequence[Mapping[str, Any]], fields: Mapping[str, Any]
) -> None:
    """Write sensitivity.json and a manifest of versions plus ``fields``, all or nothing."""
    body: Any = results[0] if len(results) == 1 else list(results)
    manifest = build_manifest(
        "sensitivity",
        {
            **fields,
            "finished_utc": utc_now().isoformat(timespec="seconds"),
            "files": [SENSITIVITY, MANIFEST],
        },
        packages=SWEEP_PACKAGES,
    )
    with staged_folder(folder, "sensitivity folder") as tmp:
        write_text(tmp / SENSITIVITY, pretty_json(body))
        write_text(tmp / MANIFEST, pretty_json(manifest))


def read_sensitivities(folder: Path) -> list[dict[str, Any]]:
    """The results of a folder's sensitivity.json (one per metric); [] without one."""
    raw = read_json(folder, SENSITIVITY)
    items = raw if isinstance(raw, list) else [raw]
    return [x for x in items if isinstance(x, dict)]
