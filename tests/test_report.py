"""The report: one self-contained HTML page and its Markdown twin, checked in a real browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.image import imread

from sim.accounting.summary import find_metric
from sim.errors import UserError
from sim.results.folders import Folder
from sim.views.figures import KINDS
from sim.views.report import write_report
from sim.views.report.render import render_html, render_markdown
from sim.views.report.sections import NO_BASELINE, SECTIONS, baseline_differences, build_report
from tests.test_plotting import SOBOL, TORNADO, shared_run_folder, sweep_runs

CHROMIUM = Path("/usr/bin/chromium")
BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
SHOT_SIZE = (1280, 2000)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_report(shared_run_folder(tmp_path_factory), baseline=BASELINE)


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
    # labelled as the run summary declares its metrics
    assert f"<td>{find_metric('provider.tco_usd').label}</td>" in html  # type: ignore[union-attr]
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
    folder = report[0].parent
    figures = sorted((folder / "figures").glob("*.png"))
    blocks = build_report(Folder(folder), figures, BASELINE)
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
    (tmp_path / "sensitivity.json").write_text(json.dumps({"metric": "m", "tornado": TORNADO}))
    (tmp_path / "manifest.json").write_text(json.dumps({"scenario": {"name": "broken"}}))
    diffs, note = baseline_differences(Folder(tmp_path), BASELINE)
    assert diffs is None and note.startswith("Skipped: a scenario could not be read")
    missing = tmp_path / "no-such-baseline.yaml"
    (tmp_path / "manifest.json").write_text(json.dumps({"scenario": _manifest_scenario()}))
    diffs, note = baseline_differences(Folder(tmp_path), missing)
    assert diffs is None and "file not found" in note


def test_without_a_baseline_the_report_says_how_to_ask_for_one(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = shared_run_folder(tmp_path_factory)
    diffs, note = baseline_differences(Folder(folder), None)
    assert diffs is None and note == NO_BASELINE and "--baseline FILE" in note


def _manifest_scenario() -> dict[str, Any]:
    from sim.results.jsonio import jsonable
    from sim.scenario import load_scenario

    return dict(jsonable(load_scenario(BASELINE).data))


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


# --------------------------------------------------------------------------- hostile folders

HOSTILE = [
    "<script>alert('x')</script>",
    "[click](javascript:alert(1))",
    "![pixel](https://evil.example/p.png)",
    '<img src=x onerror="alert(1)">',
    "line one\n# a heading?\n\n- a list?\n> a quote?",
    "`code` | pipe | *em* _em_ ~~del~~ $x$ &amp; &#106;",
    "<https://evil.example> javascript:alert(2)",
    "bell\x07 escape\x1b[31m nul\x00 bidi\u202eevil",
    "1. ordered\n---\n===",
]


def _hostile_folder(folder: Path) -> None:
    """A sweep, sensitivity and run folder whose every user string is hostile."""
    import pandas as pd

    folder.mkdir()
    h = HOSTILE
    pd.DataFrame({"month": ["2024-01-01"], "pool": [h[0]]}).to_parquet(
        folder / "timeseries.parquet"
    )
    runs = pd.DataFrame(
        {
            "point": ["p0", "p0", "p1", "p1"],
            "replication": [0, 1, 0, 1],
            "seed": [1, 1, 1, 1],
            f"param.{h[1]}": [1.0, 1.0, 2.0, 2.0],
            f"metric.{h[0]}": [1.0, 2.0, 3.0, 4.0],
            f"metric.{h[4]}": [5.0, 6.0, 7.0, 8.0],
        }
    )
    runs.to_parquet(folder / "runs.parquet")
    scenario = {"name": h[2], "description": h[4] + " " + h[1]}
    manifest = {
        "kind": "sweep",
        "scenario_name": h[3],
        "scenario_header": "\n".join(h),
        "scenario": scenario,
        "seed": 1,
        "runs": 4,
        "xpusim_version": h[5],
        "packages": {h[6]: h[7]},
        "provenance": {
            h[8]: {"source": h[1], "kind": h[0], "note": h[3], "unit": h[5], "date": h[6]}
        },
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    summary = {
        "provider": {"tco_usd": 1.0e9},
        "usage_ratio_vs_gpu": {h[0]: {"2023": 0.1}, h[4]: {h[1]: 0.2}},
        "cost_per_pflop_usd": {h[2]: 1.0, h[5]: 2.0},
        "queue": {h[3]: {"jobs": 3, "mean_wait_hours": 1.0}, h[7]: {"jobs": 1}},
    }
    (folder / "summary.json").write_text(json.dumps(summary))
    tornado = [
        {"parameter": p, "low_value": 1.0, "high_value": 2.0, "metric_low": 1, "metric_high": 3}
        for p in h
    ]
    sobol = {k: {p: 0.1 for p in h} for k in ("S1", "S1_conf", "ST", "ST_conf")}
    (folder / "sensitivity.json").write_text(
        json.dumps({"metric": h[5], "tornado": tornado, "sobol": sobol})
    )


def _visible_text(text: str) -> str:
    from sim.safeio import visible

    return " ".join(visible(text).split())


class _Tags:
    """Tags, attributes and per-element text of an HTML page (stdlib parser)."""

    def __init__(self, page: str) -> None:
        from html.parser import HTMLParser

        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.texts: dict[str, list[str]] = {}
        stack: list[list[str]] = []
        outer = self

        class Parser(HTMLParser):
            def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
                outer.tags.append((tag, dict(attrs)))
                if tag not in ("img", "meta", "wbr"):
                    stack.append([tag, ""])

            def handle_endtag(self, tag: str) -> None:
                if stack and stack[-1][0] == tag:
                    name, text = stack.pop()
                    outer.texts.setdefault(name, []).append(" ".join(text.split()))
                    if stack:
                        stack[-1][1] += text

            def handle_data(self, data: str) -> None:
                if stack:
                    stack[-1][1] += data

        Parser(convert_charrefs=True).feed(page)


def _blocks_of(folder: Path) -> list[Any]:
    figures = sorted((folder / "figures").glob("*.png"))
    return build_report(Folder(folder), figures)


def _expected_cells(blocks: list[Any]) -> list[str]:
    from sim.views.report.blocks import Table

    cells = []
    for b in blocks:
        if isinstance(b, Table):
            cells += [_visible_text(c) for row in b.rows for c in row]
    return cells


def test_html_report_escapes_every_hostile_string(tmp_path: Path) -> None:
    folder = tmp_path / "hostile"
    _hostile_folder(folder)
    html_path, _ = write_report(folder)
    page = html_path.read_text(encoding="utf-8")
    parsed = _Tags(page)
    allowed = {
        "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "nav", "ol", "li",
        "a", "p", "details", "summary", "table", "thead", "tbody", "tr", "th", "td", "figure",
        "img", "figcaption", "wbr",
    }  # fmt: skip
    for tag, attrs in parsed.tags:
        assert tag in allowed, tag
        assert set(attrs) <= {"id", "class", "href", "src", "alt", "lang", "charset", "name",
                              "content"}, attrs  # fmt: skip
        if "href" in attrs:  # links jump within the page only
            assert re.fullmatch(r"#[\w-]*", str(attrs["href"])), attrs
        if "src" in attrs:
            assert str(attrs["src"]).startswith("data:image/png;base64,")
    for raw in ("\x07", "\x1b", "\x00", "\u202e"):
        assert raw not in page
    # each hostile string reads back as the text it was, in a cell or paragraph
    blocks = _blocks_of(folder)
    cells = parsed.texts["td"]
    assert cells == _expected_cells(blocks)
    assert _visible_text(HOSTILE[7]) in cells  # a pool key, control bytes made visible
    assert parsed.texts["h1"] == [_visible_text(f"xpusim report: {HOSTILE[3]}")]
    paragraphs = parsed.texts["p"]
    assert _visible_text(HOSTILE[4] + " " + HOSTILE[1]) in paragraphs  # the description
    for line in HOSTILE:  # the header comment, paragraph by paragraph
        for part in line.split("\n\n"):
            assert any(_visible_text(part) in p for p in paragraphs), part


def test_markdown_report_renders_hostile_text_as_text(tmp_path: Path) -> None:
    from markdown_it import MarkdownIt

    from sim.views.report.blocks import FigureBlock, Heading, Table

    folder = tmp_path / "hostile"
    _hostile_folder(folder)
    _, md_path = write_report(folder)
    text = md_path.read_text(encoding="utf-8")
    for raw in ("\x07", "\x1b", "\x00", "\u202e"):
        assert raw not in text
    # a lax renderer: raw HTML on, every link destination accepted
    renderer = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    renderer.validateLink = lambda url: True
    parsed = _Tags(renderer.render(text))
    allowed = {"h1", "h2", "h3", "p", "em", "table", "thead", "tbody", "tr", "th", "td", "img"}
    assert {tag for tag, _ in parsed.tags} <= allowed, {tag for tag, _ in parsed.tags}
    blocks = _blocks_of(folder)
    figures = [b for b in blocks if isinstance(b, FigureBlock)]
    assert [a["src"] for t, a in parsed.tags if t == "img"] == [
        f"figures/{b.kind}.png" for b in figures
    ]
    headings = [b for b in blocks if isinstance(b, Heading)]
    assert parsed.texts["h1"] == [_visible_text(f"xpusim report: {HOSTILE[3]}")]
    assert parsed.texts["h2"] == list(SECTIONS)
    assert len(headings) == 1 + len(SECTIONS)  # no user text became a heading
    assert parsed.texts["h3"] == [b.title for b in figures]
    assert sum(isinstance(b, Table) for b in blocks) == len(parsed.texts["table"])
    # every cell survived whole: no pipe or backtick split a table or ate a cell
    assert parsed.texts["td"] == _expected_cells(blocks)
    assert _visible_text(HOSTILE[4] + " " + HOSTILE[1]) in parsed.texts["p"]


def test_report_reads_nothing_outside_its_folder(tmp_path: Path) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text("# SECRET-LINE root:x:0:0\nname: x\n")
    folder = tmp_path / "sens"
    folder.mkdir()
    (folder / "sensitivity.json").write_text(json.dumps({"metric": "m", "tornado": TORNADO}))
    manifest = {"kind": "sensitivity", "scenario_path": str(secret), "scenario_name": "x"}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    html_path, md_path = write_report(folder)
    for path in (html_path, md_path):
        assert "SECRET-LINE" not in path.read_text()
    # the folder's own scenario.yaml is read; a link from it to outside is refused
    (folder / "scenario.yaml").write_text("# OWN-HEADER\nname: x\n")
    assert "OWN-HEADER" in write_report(folder)[1].read_text()
    (folder / "scenario.yaml").unlink()
    (folder / "scenario.yaml").symlink_to(secret)
    with pytest.raises(UserError, match="link to a file outside the folder"):
        write_report(folder)
    (folder / "scenario.yaml").unlink()
    (folder / "summary.json").symlink_to(secret)
    with pytest.raises(UserError, match=r"summary\.json is a link to a file outside"):
        write_report(folder)


@pytest.mark.parametrize("linked", ["folder", "report.html", "report.md", "figures"])
def test_report_refuses_to_write_through_a_link(tmp_path: Path, linked: str) -> None:
    real = tmp_path / "sens"
    real.mkdir()
    (real / "sensitivity.json").write_text(json.dumps({"metric": "m", "tornado": TORNADO}))
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("keep")
    folder = real
    if linked == "folder":
        folder = tmp_path / "link"
        folder.symlink_to(real)
    else:
        (real / linked).symlink_to(victim / "keep.txt" if "." in linked else victim)
    with pytest.raises(UserError, match="is a symbolic link; xpusim does not write through"):
        write_report(folder)
    assert sorted(p.name for p in victim.iterdir()) == ["keep.txt"]
    assert (victim / "keep.txt").read_text() == "keep"
    assert not (real / "report.html").exists() or linked == "report.html"


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60) | st.text(alphabet="\\`*_[]()<>!#|~$&;:-+=.1 \n\tx", max_size=30))
def test_any_text_renders_as_itself(text: str) -> None:
    """Whatever a key or description holds, both renderings show exactly that text."""
    from markdown_it import MarkdownIt

    from sim.views.report.render import html_text, md_text

    expected = _visible_text(text)
    page = _Tags(f"<p>{html_text(text)}</p>")
    assert {t for t, _ in page.tags} == {"p"} and page.texts["p"] == [expected]
    line, cell = md_text(text), md_text(text, line_start=False)
    assert "\n" not in line
    if not expected:
        return
    renderer = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    renderer.validateLink = lambda url: True
    for source, tags in (
        (line, ["p"]),
        (f"_{line}_", ["p", "em"]),
        (f"# {line}", ["h1"]),
        (f"| {cell} |\n|---|\n| {cell} |", ["table", "thead", "tr", "th", "tbody", "tr", "td"]),
    ):
        parsed = _Tags(renderer.render(source))
        assert [t for t, _ in parsed.tags] == tags, source
        assert parsed.texts[tags[-1]] == [expected], source


def test_sweep_report_shows_the_design_and_each_point(tmp_path: Path) -> None:
    import pandas as pd

    folder = tmp_path / "sweep"
    folder.mkdir()
    runs = pd.DataFrame(
        {
            "param.economics.pue": [1.1, 1.1, 1.3, 1.3],
            "replication": [0, 1, 0, 1],
            "metric.provider.tco_usd": [8.0e9, 9.0e9, 8.5e9, 8.7e9],
            "metric.program_value.paid_back": [True, False, True, True],  # a bool metric
        }
    )
    runs.to_parquet(folder / "runs.parquet")
    pd.DataFrame(
        {
            "param.economics.pue": [1.1, 1.3],
            "replications": [2, 2],
            "metric.provider.tco_usd.mean": [8.5e9, 8.6e9],
            "metric.provider.tco_usd.ci95": [6.35e9, 1.27e9],
        }
    ).to_parquet(folder / "points.parquet")
    (folder / "manifest.json").write_text(json.dumps({"kind": "sweep", "runs": 4}))
    _, md_path = write_report(folder)
    md = md_path.read_text()
    assert "varies 1 parameter over 2 points, 2 replications a point (4 runs)" in md
    assert "| economics.pue | 1.1, 1.3 |" in md
    assert "| 1.1 | 2 | \\$8.5B +- \\$6.3B |" in md  # per point: mean +- its half-width
    assert "all points pooled (not an interval)" in md


def test_baseline_differences_show_years_as_years(tmp_path: Path) -> None:
    """A changed year reads 2025 in the report's differences table, not 2,025."""
    from sim.views.report.blocks import Table
    from sim.views.report.sections import _baseline

    scenario = _manifest_scenario()
    scenario["catalog"]["stacks"]["neuron"]["maturity_midpoint_year"] = 2025
    (tmp_path / "sensitivity.json").write_text(json.dumps({"metric": "m", "tornado": TORNADO}))
    (tmp_path / "manifest.json").write_text(json.dumps({"scenario": scenario}))
    tables = [b for b in _baseline(Folder(tmp_path), BASELINE) if isinstance(b, Table)]
    row = next(r for t in tables for r in t.rows if r[0].endswith("maturity_midpoint_year"))
    assert row[1:] == ["2025", "2027"], row
