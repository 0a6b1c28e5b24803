"""Stage C and D: plots of every run and the gallery of a small real sweep."""

from __future__ import annotations

import html
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from lambda_hat.cli import app

from tests.conftest import DIVERGING, FAST, TINY_TARGETS, TINY_VI

runner = CliRunner()
SWEEP = {
    "targets": TINY_TARGETS,
    "samplers": [{"name": "hmc", "overrides": FAST}, {"name": "mclmc", "overrides": FAST},
                 {"name": "sgld", "overrides": {**FAST, "thin": 1}}, TINY_VI, DIVERGING],   # the last one fails
}


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.targets, self.rows = [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a":
            self.targets.append(attrs["href"])
        if tag == "img":
            self.targets.append(attrs["src"])
        if tag == "tr" and "run" in (attrs.get("class") or ""):
            self.rows += 1


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    root = tmp_path_factory.mktemp("gallery")
    (root / "experiments.yaml").write_text(yaml.safe_dump(SWEEP))
    import os

    cwd = os.getcwd()
    os.chdir(root)
    try:
        result = runner.invoke(app, ["workflow", "llc", "--local", "--promote", "--config", "experiments.yaml"])
    finally:
        os.chdir(cwd)
    assert result.exit_code == 1, result.output      # one sampler fails on purpose
    return root


def not_blank(path: Path) -> bool:
    image = matplotlib.image.imread(path)
    return image.shape[0] > 50 and image.shape[1] > 50 and float(np.std(image[..., :3])) > 0.01


def test_every_finished_run_has_its_plots(gallery):
    runs = [p.parent for p in gallery.glob("runs/targets/*/run_*/analysis.json")]
    assert len(runs) == 8
    # SGLD has no plot of its own: its loss at the draws is the λ̂ trace, rescaled
    expected = {"hmc": "acceptance.png", "mclmc": "energy_error.png", "sgld": "llc_trace.png", "vi": "elbo.png"}
    for run in runs:
        algorithm = yaml.safe_load((run / "analysis.json").read_text())["algorithm"]
        files = {p.name for p in (run / "diagnostics").glob("*.png")}
        assert {"llc_trace.png", "llc_running_mean.png", expected[algorithm]} <= files
        assert all(not_blank(run / "diagnostics" / name) for name in files)
        assert (run / "diagnostics" / "plots.json").is_file()


def test_index_links_resolve_and_table_matches_parquet(gallery):
    index = gallery / "results" / "gallery" / "index.html"
    parser = Links()
    parser.feed(index.read_text())
    assert parser.targets and not any(t.startswith(("http:", "https:", "/")) for t in parser.targets)
    for target in parser.targets:
        assert (index.parent / target).is_file(), target
    for page in (index.parent / "runs").glob("*/index.html"):
        sub = Links()
        sub.feed(page.read_text())
        assert all((page.parent / t).is_file() for t in sub.targets)
    table = pd.read_parquet(gallery / "results" / "llc_runs.parquet")
    assert parser.rows == len(table) == 10                     # 8 finished + 2 failed rows
    text = index.read_text()
    for row in table[table["status"] != "failed"].itertuples():
        assert f"runs/{row.run_id}/index.html" in text
        assert f"{row.llc_mean:.3g}" in text
    assert text.count("failed: ") == 2
    # an estimate whose diagnostics fail is never shown as plain ok
    for row in table[table["status"] == "suspect"].itertuples():
        assert html.escape(f"suspect: {row.warnings}") in text
    assert text.count("<td>ok</td>") == (table["status"] == "ok").sum()
    # every VI run carries its Pareto k-hat, in the table and on its page
    vi = table[table["algorithm"] == "vi"]
    assert len(vi) == 2 and vi["pareto_k"].notna().all() and vi["is_ess"].notna().all()
    # and, refined (the default), how far its twins ended from its draws: in the table and on its page
    assert vi["refine_gap"].notna().all() and vi["refine_gap_se"].notna().all()
    for row in vi.itertuples():
        assert f"{row.pareto_k:.2g}</td>" in text
        page = (index.parent / "runs" / row.run_id / "index.html").read_text()
        assert f"k̂ = {row.pareto_k:.2g}" in page and "twin chains started further from w* ended" in page
    assert table.loc[table["algorithm"] != "vi", "pareto_k"].isna().all()
    summary = (index.parent / "summary.md").read_text()
    assert len([l for l in summary.splitlines() if l.startswith("| tgt_")]) == 10
    for name in ("llc_by_sampler.png", "llc_vs_true.png", "ess_per_second.png", "walltime_by_sampler.png"):
        assert not_blank(index.parent / name)


def test_target_diagnostics(gallery):
    target = next(gallery.glob("runs/targets/*/meta.json")).parent
    result = runner.invoke(app, ["diagnose", "--target", str(target)])
    assert result.exit_code == 0
    assert not_blank(target / "diagnostics" / "training_curve.png")
    assert not_blank(target / "diagnostics" / "predictions.png")


def test_promote_bad_input(tmp_path):
    result = runner.invoke(app, ["promote", "--store", str(tmp_path), "--results", str(tmp_path / "none.parquet")])
    assert result.exit_code == 1 and "none.parquet: results parquet not found" in result.stderr
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "foreign.parquet")
    result = runner.invoke(app, ["promote", "--store", str(tmp_path), "--results", str(tmp_path / "foreign.parquet")])
    assert result.exit_code == 1 and "foreign.parquet: not a lambda-hat results table" in result.stderr
    result = runner.invoke(app, ["collect", "--store", str(tmp_path), "--out", str(tmp_path / "empty.parquet")])
    result = runner.invoke(app, ["promote", "--store", str(tmp_path), "--results", str(tmp_path / "empty.parquet")])
    assert result.exit_code == 1 and "no finished or failed runs" in result.stderr


def test_gallery_renders_in_headless_chromium(gallery):
    """Every image renders (naturalWidth > 0) and the summary table has one row per run."""
    import os
    import shutil

    sync_api = pytest.importorskip("playwright.sync_api") if not os.environ.get("LAMBDA_HAT_REQUIRE_BROWSER") \
        else __import__("playwright.sync_api", fromlist=["sync_playwright"])
    browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser_path is None:
        if os.environ.get("LAMBDA_HAT_REQUIRE_BROWSER"):
            raise RuntimeError("chromium is not installed")
        pytest.skip("chromium is not installed")
    index = gallery / "results" / "gallery" / "index.html"
    table = pd.read_parquet(gallery / "results" / "llc_runs.parquet")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=browser_path,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(index.as_uri())
        page.wait_for_load_state("load")
        widths = page.eval_on_selector_all("img", "images => images.map(i => i.complete ? i.naturalWidth : 0)")
        rows = page.eval_on_selector_all("#summary tr.run", "rows => rows.length")
        failed = page.eval_on_selector_all("#summary tr.failed", "rows => rows.length")
        shot = gallery / "gallery.png"
        page.screenshot(path=str(shot), full_page=False)
        browser.close()
    assert len(widths) >= (table["status"] != "failed").sum() + 3 and all(width > 0 for width in widths)
    assert rows == len(table) and failed == 2
    assert not_blank(shot)
    if os.environ.get("LAMBDA_HAT_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["LAMBDA_HAT_SCREENSHOT"])
