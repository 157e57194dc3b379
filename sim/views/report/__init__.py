"""The report: a run, sweep or sensitivity folder as one HTML page and its Markdown twin.

:func:`write_report` draws the folder's figures (:func:`sim.views.figures.plot_folder`) and
writes ``report.html`` (figures inline as base64 PNG, styles inline, no script and no
external address: it opens without a network) and ``report.md`` (figures referenced
relatively from ``figures/``). Both hold the same sections (:mod:`.sections`): the question
the scenario asks, the headline results, the figures with captions, the assumptions with
their sources, what differs from a baseline scenario (given with ``--baseline FILE``) and
the versions used. Nothing in it depends on the time it is written: the same folder gives
the same bytes.
"""

from __future__ import annotations

from pathlib import Path

from sim.results.folders import (
    REPORT_HTML,
    REPORT_MD,
    open_output_folder,
    write_report_files,
)
from sim.safeio import check_not_link
from sim.views.figures import plot_folder
from sim.views.report.render import render_html, render_markdown
from sim.views.report.sections import build_report

__all__ = ["write_report"]


def write_report(folder: Path | str, baseline: Path | None = None) -> tuple[Path, Path]:
    """Draw the folder's figures and write ``report.html`` and ``report.md`` into it.

    ``baseline`` is a scenario file to list the differences from (None: no comparison).
    Reads only the folder's own files and the baseline; writes each file atomically and
    never through a symbolic link (a linked folder, figures folder or report file is a
    UserError).
    """
    data = open_output_folder(folder)
    html_path = data.folder / REPORT_HTML
    md_path = data.folder / REPORT_MD
    for path in (html_path, md_path):
        check_not_link(path)  # before drawing anything
    figures = plot_folder(data.folder, formats=("png",))
    blocks = build_report(data, figures, baseline)
    return write_report_files(
        data.folder, render_html(blocks), render_markdown(blocks, data.folder)
    )
