"""Result tables as Parquet files: one writer and one reader, deterministic bytes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.errors import UserError
from sim.safeio import write_file

__all__ = ["read_table", "write_parquet"]


def write_parquet(table: pd.DataFrame, path: Path) -> None:
    """Write ``table`` to ``path`` as Parquet, deterministically and without an index.

    A meaningful index (named, or anything but the default 0..n-1 range) is kept as
    ordinary columns first. The bytes depend only on the data and the library versions:
    Parquet files carry no creation time. The file is written atomically, never through a
    link (:func:`sim.safeio.write_file`).
    """
    frame = table
    index = frame.index
    default_index = (
        isinstance(index, pd.RangeIndex)
        and index.start == 0
        and index.step == 1
        and all(n is None for n in index.names)
    )
    if not default_index:
        frame = frame.reset_index()
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    write_file(
        Path(path),
        lambda handle: pq.write_table(arrow, handle, compression="zstd", write_statistics=True),
    )


def read_table(path: Path, what: str = "table") -> pd.DataFrame:
    """The Parquet file at ``path`` as a DataFrame; a :class:`UserError` if it cannot be read.

    The message names ``what`` the file is ("table"; "" for none).
    """
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise UserError(f"cannot read {what + ' ' if what else ''}{path}: {exc}") from exc
