"""The report: one self-contained HTML page and its Markdown twin, checked in a real browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from sim.errors import UserError
from sim.plotting import KINDS
from sim.report import (
    SECTIONS,
    baseline_differences,
    build_report,
    render_html,
    render_markdown,
    write_report,
)
from tests.test_plotting import SOBOL, TORNADO, shared_run_folder, sweep_runs

CHROMIUM = Path("/usr/bin/chromium")
SHOT_SIZE = (1280, 2000)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_report(shared_run_folder(tmp_path_factory))


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def test_report_files_and_sections(report: tuple[Path, Path]) -> None:
    html_path, md_path = report
    assert html_path.name == "report.html" and md_path.name == "report.md"
    assert html_path.parent == md_path.parent
    html = html_path.read_text(encoding="utf-8")
    md = md_path.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert f">{section}</h2>" in html
        assert f"\n## {section}\n" in md
    assert "<h1" in html and md.startswith("# xpusim report: baseline\n")
    # the scenario's question, from its description and its YAML header comment
    assert "QUESTION:" in html and "QUESTION:" in md
    # headline metrics from summary.json
    summary = json.loads((html_path.parent / "summary.json").read_text())
    assert "Provider total cost of ownership over the horizon" in html
    assert "provider.tco_usd" in md
    assert summary["provider"]["tco_usd"] > 0
    # every run figure, with its caption, inline in the page and relative in the twin
    for kind in ("cost", "learning", "adoption", "tco_breakdown", "program", "queue"):
        assert f'id="figure-{kind}"' in html
        assert f"](figures/{kind}.png)" in md
        assert (html_path.parent / "figures" / f"{kind}.png").is_file()
    assert html.count('<img src="data:image/png;base64,') == 6
    # assumptions with their sources, from the manifest's provenance
    assert "economics.pue" in md and "datacenterdynamics.com" in md
    assert "<details><summary>Catalog figures:" in html
    # versions
    assert "xpusim (run)" in html and "matplotlib (figures)" in md


def test_report_is_self_contained(report: tuple[Path, Path]) -> None:
    html = report[0].read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert "@import" not in html and "url(" not in html
    # every src is inline data; links only jump within the page
    assert all(
        src.startswith("data:image/png;base64,") for src in re.findall(r'src="([^"]*)"', html)
    )
    assert all(href.startswith("#") for href in re.findall(r'href="([^"]*)"', html))
    # an address may appear only as the text of a source, never in markup
    for match in re.finditer(r"https?://", html):
        before = html[: match.start()]
        assert before.rfind("<") < before.rfind(">"), "an address inside a tag"
    assert "<style>" in html


def test_report_differs_from_baseline(report: tuple[Path, Path]) -> None:
    html = report[0].read_text(encoding="utf-8")
    md = report[1].read_text(encoding="utf-8")
    section = md.split("## What differs from the baseline")[1].split("\n## ")[0]
    # the test run shortened the horizon, ran 2 replications and set a street price
    assert "horizon.end" in section
    assert "replications" in section
    assert "vendors.nvidia.street_price_multiplier" in section
    assert "resolved values differ from the baseline" in _text(html)


def test_report_is_deterministic(report: tuple[Path, Path]) -> None:
    # the figures' bytes are checked in test_plotting; here the page around them
    from sim.plotting import FolderData

    folder = report[0].parent
    figures = sorted((folder / "figures").glob("*.png"))
    blocks = build_report(FolderData(folder), figures)
    assert render_html(blocks) == report[0].read_text(encoding="utf-8")
    assert render_markdown(blocks, folder) == report[1].read_text(encoding="utf-8")


def test_report_of_a_sensitivity_and_sweep_folder(tmp_path: Path) -> None:
    folder = tmp_path / "sens"
    folder.mkdir()
    sweep_runs(grid=True).to_parquet(folder / "runs.parquet")
    (folder / "manifest.json").write_text(
        json.dumps({"kind": "sweep", "scenario_name": "what-if", "runs": 18})
    )
    (folder / "sensitivity.json").write_text(
        json.dumps({"metric": "provider.tco_usd", "tornado": TORNADO, "sobol": SOBOL})
    )
    html_path, md_path = write_report(folder)
    md = md_path.read_text()
    for kind in ("tornado", "sobol", "sweep"):
        assert f"](figures/{kind}.png)" in md
    assert "## Headline results" in md and "18 runs" in md
    assert "| vendors.nvidia.gross_margin_fraction | 0.6 to 0.8 |" in md
    # no resolved scenario: the baseline comparison explains itself instead
    assert "nothing to compare" in md
    assert "xpusim report: what-if" in html_path.read_text()
    assert set(KINDS) >= {p.stem for p in (folder / "figures").iterdir()}


def test_baseline_comparison_is_skipped_gracefully(tmp_path: Path) -> None:
    from sim.plotting import FolderData

    (tmp_path / "sensitivity.json").write_text(json.dumps({"metric": "m", "tornado": TORNADO}))
    (tmp_path / "manifest.json").write_text(json.dumps({"scenario": {"name": "broken"}}))
    diffs, note = baseline_differences(FolderData(tmp_path))
    assert diffs is None and note.startswith("Skipped: a scenario could not be read")


def test_report_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such folder"):
        write_report(tmp_path / "missing")
    with pytest.raises(UserError, match="not a run, sweep or sensitivity folder"):
        write_report(tmp_path)


def test_report_renders_in_headless_chromium(report: tuple[Path, Path], tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed: apt-get install chromium")
    shot = tmp_path / "shot.png"
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        f"--window-size={SHOT_SIZE[0]},{SHOT_SIZE[1]}",
        report[0].resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert shot.is_file(), done.stderr[-2000:]
    pixels = imread(str(shot))
    assert pixels.shape[1] == SHOT_SIZE[0] and pixels.shape[0] == SHOT_SIZE[1]
    assert float(np.var(pixels[..., :3])) > 0.0, "the screenshot is blank"
    # the page has text and the green rule under the title, not only white
    assert (pixels[..., :3].mean(axis=2) < 0.5).mean() > 0.01
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
