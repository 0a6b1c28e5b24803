"""Stage D: a self-contained static gallery of a sweep (``index.html``, ``summary.md``, PNGs).

Relative links only, no external scripts or fonts: it opens from ``file://``.
"""

from __future__ import annotations

import html
import math
import re
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from lambda_hat import health, store  # noqa: E402
from lambda_hat.report.plots import diagnose_run, save  # noqa: E402

R_HAT_WARN = health.R_HAT_MAX
STYLE = """body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td.l,th{text-align:left}.warn{background:#fde2a7}
.failed{background:#f7c6c6}img.thumb{width:150px}.figs img{max-width:480px;margin:4px}"""


def read_results(path: Path) -> pd.DataFrame:
    """The sweep's parquet; a missing or foreign file is reported by path."""
    path = Path(path)
    if not path.is_file():
        raise store.StoreError(f"{path}: results parquet not found (run `lambda-hat collect` first)")
    try:
        table = pd.read_parquet(path)
    except Exception as err:  # noqa: BLE001 - any unreadable file
        raise store.StoreError(f"{path}: not a readable parquet file ({type(err).__name__})") from None
    missing = [c for c in ("target_id", "run_id", "sampler", "llc_mean", "llc_sem") if c not in table.columns]
    if missing:
        raise store.StoreError(f"{path}: not a lambda-hat results table (missing columns: {', '.join(missing)})")
    if "llc_err" not in table.columns:           # a table from before error bars covered bias: the MCSE alone
        table = table.assign(llc_err=table["llc_sem"])
    return table


def cell(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or value is pd.NA:
        return "–"
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}g}"
    return html.escape(str(value))


def warn_if(bad: bool) -> str:
    """The class attribute of a highlighted table cell, or nothing."""
    return ' class="warn"' if bad else ""


def status_text(row: dict) -> str:
    """``ok``, or ``suspect: reasons`` (a row without a verdict, from an older table, gets one now)."""
    status, warnings = row.get("status"), row.get("warnings")
    if not isinstance(status, str):
        status, warnings = health.verdict(row)
    return f"suspect: {warnings}" if status == "suspect" else status


def at_checkpoint(row: dict) -> str:
    """`` @ <checkpoint>`` for a target read from a checkpoint, else nothing."""
    name = row.get("checkpoint")
    return f" @ {cell(name)}" if isinstance(name, str) and name else ""


def status_cell(row: dict) -> str:
    text = status_text(row)
    return f'<td class="l warn">{html.escape(text)}</td>' if text != "ok" else "<td>ok</td>"


def summary_figures(table: pd.DataFrame, out: Path) -> list[str]:
    """λ̂ by sampler, λ̂ against λ true, ESS per second and wall time by sampler, and λ̂ over the
    checkpoints of a target entry (the LLC over training)."""
    samplers = sorted(table["sampler"].unique())
    position = {name: i for i, name in enumerate(samplers)}
    files = []
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(table))

    def by_sampler(column: str, label: str, name: str, log: bool = False):
        figure, ax = plt.subplots(figsize=(6, 3.4))
        values = table[column].astype(float)
        ax.boxplot([values[table["sampler"] == s].dropna() for s in samplers], positions=range(len(samplers)))
        ax.scatter(table["sampler"].map(position) + jitter, values, s=12, alpha=0.7)
        ax.set_xticks(range(len(samplers)), samplers, rotation=30, ha="right", fontsize=8)
        ax.set(ylabel=label, title=label + " by sampler")
        if log:
            ax.set_yscale("log")
        files.append(save(figure, out / name))

    by_sampler("llc_mean", "λ̂", "llc_by_sampler.png")
    table = table.assign(ess_per_second=table["ess_bulk"].astype(float) / table["walltime_sec"].astype(float))
    by_sampler("walltime_sec", "wall time (s)", "walltime_by_sampler.png", log=True)
    figure, ax = plt.subplots(figsize=(6, 3.4))
    ax.bar(samplers, [table.loc[table["sampler"] == s, "ess_per_second"].mean() for s in samplers])
    ax.set_xticks(range(len(samplers)), samplers, rotation=30, ha="right", fontsize=8)
    ax.set(ylabel="bulk ESS / s", title="ESS per second by sampler (mean over targets)")
    files.append(save(figure, out / "ess_per_second.png"))
    known = table[table["llc_true"].notna()]
    if len(known):
        figure, ax = plt.subplots(figsize=(4.5, 4.5))
        for name, group in known.groupby("sampler"):
            ax.errorbar(group["llc_true"], group["llc_mean"], yerr=group["llc_err"].fillna(0), fmt="o", ms=4, label=name)
        low, high = float(known[["llc_true", "llc_mean"]].min().min()), float(known[["llc_true", "llc_mean"]].max().max())
        ax.plot([low, high], [low, high], "k--", lw=0.8, label="y = x")
        ax.set(xlabel="λ true", ylabel="λ̂", title="λ̂ against the known λ")
        ax.legend(fontsize=7)
        files.append(save(figure, out / "llc_vs_true.png"))
    if "checkpoint" in table.columns and table["checkpoint"].notna().any():
        files.append(over_checkpoints(table[table["checkpoint"].notna()], out))
    return files


def natural(name: str) -> tuple:
    """A sort key that puts ``step_9`` before ``step_10``."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(name)))


def series(row) -> str:
    """What the targets of one checkpoint list share: their spec without the checkpoint (and the sampler)."""
    document = yaml.safe_load(row["config_yaml"]) if isinstance(row.get("config_yaml"), str) else {}
    target = {k: v for k, v in (document.get("target") or {}).items() if k != "checkpoint"}
    return yaml.safe_dump([target, row["sampler"]], sort_keys=True)


def over_checkpoints(table: pd.DataFrame, out: Path) -> str:
    """λ̂ (± 2 llc_err) against the checkpoints, one line per model and sampler: the LLC over
    training. A suspect estimate is drawn hollow (checkpoints away from a minimum are suspect)."""
    figure, ax = plt.subplots(figsize=(7, 3.8))
    rows = table.assign(series=[series(row) for row in table.to_dict("records")])
    for number, (_, group) in enumerate(rows.groupby("series", sort=False)):
        group = group.sort_values("checkpoint", key=lambda names: names.map(natural))
        names = [Path(str(name)).stem for name in group["checkpoint"]]
        line = ax.errorbar(names, group["llc_mean"], yerr=2 * group["llc_err"].fillna(0), marker="o", ms=5, capsize=3,
                           label=f"{group['model'].iloc[0]} / {group['data'].iloc[0]} / {group['sampler'].iloc[0]}")
        suspect = group["status"] != "ok"
        ax.scatter(np.array(names)[suspect.to_numpy()], group.loc[suspect, "llc_mean"], s=40, facecolors="white",
                   edgecolors=line[0].get_color(), zorder=3, label="suspect" if number == 0 and suspect.any() else None)
    ax.set(xlabel="checkpoint", ylabel="λ̂ (± 2 llc_err)", title="LLC over training")
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    ax.legend(fontsize=7)
    return save(figure, out / "llc_over_checkpoints.png")


def run_page(row: dict, files: list[str]) -> str:
    images = "".join(f'<a href="{f}"><img src="{f}" alt="{f}"></a>' for f in files)
    checked = ""
    if health.finite(row.get("pareto_k")):
        checked = (f"<p>q against the posterior (PSIS): k̂ = {cell(row['pareto_k'], 2)}, effective sample size of "
                   f"the weights {cell(row.get('is_ess'), 3)}, reweighted λ̂ = {cell(row.get('llc_is'))}, "
                   f"q's own λ̂ = {cell(row.get('llc_q'))}</p>")
    if health.refined(row):
        checked += (f"<p>draws refined from q by Langevin steps (acceptance {cell(row.get('acceptance_rate'), 2)}): "
                    f"λ̂ moved {cell(row['refine_drift'], 2)} ± {cell(row.get('refine_drift_se'), 2)} (relative) over "
                    f"the refinement's second half")
        if health.finite(row.get("refine_gap")):
            checked += (f"; twin chains started further from w* ended {cell(row['refine_gap'], 2)} ± "
                        f"{cell(row.get('refine_gap_se'), 2)} (relative) away")
        checked += "</p>"
    if row.get("stop_reason"):
        checked += (f"<p>{cell(row.get('draws'))} draws per chain of at most {cell(row.get('draws_max'))} "
                    f"(stopped by {cell(row['stop_reason'])}); relative MCSE of λ̂ {cell(row.get('llc_rel_mcse'), 2)}</p>")
    return (f"<!doctype html><meta charset=utf-8><title>{cell(row['sampler'])} on {cell(row['target_id'])}</title>"
            f"<style>{STYLE}</style><p><a href=\"../../index.html\">← sweep</a></p>"
            f"<h1>{cell(row['sampler'])} on {cell(row['target_id'])}</h1><p>λ̂ = {cell(row['llc_mean'])} ± "
            f"{cell(row['llc_err'])} (run {cell(row['run_id'])}): {html.escape(status_text(row))}</p>{checked}"
            f"<div class=figs>{images}</div>")


def promote(store_root: Path, results: Path, out: Path, runs: list[Path] | None = None) -> dict:
    """Write the gallery of the sweep in ``store_root`` / ``results`` to ``out``; returns counts.

    Plots go to each run's ``diagnostics/`` and are copied into the gallery; with ``runs`` (run
    folders outside a store, as Nextflow stages them) they are drawn straight into the gallery.
    """
    everything = read_results(results)
    status = everything["status"] if "status" in everything.columns else pd.Series("ok", index=everything.index)
    table, failures = everything[status != "failed"], everything[status == "failed"].to_dict("records")
    folders = {store.run_id_of(run): Path(run) for run in (runs or store.run_folders(store_root))}
    if table.empty and not failures:
        raise store.StoreError(f"{store_root}: no finished or failed runs to show")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figures = summary_figures(table, out) if len(table) else []
    rows, lines = [], []
    for row in table.to_dict("records"):
        run = folders.get(row["run_id"])
        if run is None:
            raise store.StoreError(f"run_{row['run_id']} of {results} is not in {store_root if not runs else 'the given runs'}")
        folder = out / "runs" / row["run_id"]
        plotted = diagnose_run(run, out=folder if runs else None)["files"]
        folder.mkdir(parents=True, exist_ok=True)
        for name in plotted if not runs else []:
            shutil.copyfile(run / "diagnostics" / name, folder / name)
        store.write_bytes(folder / "index.html", run_page(row, plotted).encode())
        r_hat, ess, pareto_k = row.get("r_hat"), row.get("ess_bulk"), row.get("pareto_k")
        warn_r = warn_if(health.finite(r_hat) and r_hat > R_HAT_WARN)
        warn_e = warn_if(health.finite(ess) and ess < health.ess_min(row.get("chains")))
        # refined VI does not rest on q: its k-hat is then shown, not flagged (its drift is checked)
        warn_k = warn_if(health.finite(pareto_k) and pareto_k > health.PARETO_K_MAX and not health.refined(row))
        error = row.get("llc_rel_error")
        verdict = status_cell(row)
        rows.append(
            f"<tr class=run><td class=l>{cell(row['target_id'])}<br><small>{cell(row['model'])}/{cell(row['data'])}/"
            f"{cell(row['teacher'])}{at_checkpoint(row)}</small></td><td class=l>{cell(row['sampler'])}</td>{verdict}"
            f"<td>{cell(row['llc_mean'])} ± {cell(row['llc_err'], 2)}</td><td>{cell(row['llc_true'])}</td>"
            f"<td>{'–' if error is None or not math.isfinite(error) else f'{error:+.1%}'}</td>"
            f"<td{warn_e}>{cell(ess, 4)}</td><td{warn_r}>{cell(r_hat, 4)}</td><td{warn_k}>{cell(pareto_k, 2)}</td>"
            f"<td>{cell(row['walltime_sec'], 3)}</td>"
            f"<td><a href=\"runs/{row['run_id']}/index.html\"><img class=thumb src=\"runs/{row['run_id']}/llc_running_mean.png\" "
            f"alt=\"running mean of {cell(row['sampler'])}\"></a></td></tr>")
        lines.append(f"| {row['target_id']} | {row['sampler']} | {status_text(row)} | {row['llc_mean']:.4g} ± {row['llc_err']:.2g} | "
                     f"{cell(row['llc_true'])} | {cell(error)} | {cell(ess, 4)} | {cell(r_hat, 4)} | {cell(pareto_k, 2)} | "
                     f"{row['walltime_sec']:.3g} |")
    for failure in failures:
        reason = failure.get("error")
        reason = reason[:200] if isinstance(reason, str) and reason else "no reason recorded"
        rows.append(f"<tr class=\"run failed\"><td class=l>{cell(failure['target_id'])}</td><td class=l>"
                    f"{cell(failure['sampler'])}</td><td class=l colspan=9>failed: {html.escape(reason)}</td></tr>")
        lines.append(f"| {failure['target_id']} | {failure['sampler']} | failed: {reason} |  |  |  |  |  |  |  |")
    suspect = int((table["status"] == "suspect").sum()) if "status" in table.columns else 0
    header = ("<tr><th>target</th><th>sampler</th><th>status</th><th>λ̂ ± llc_err</th><th>λ true</th><th>rel. error</th>"
              "<th>ESS bulk</th><th>R-hat</th><th>k̂</th><th>wall s</th><th>plots</th></tr>")
    images = "".join(f'<a href="{f}"><img src="{f}" alt="{f}"></a>' for f in figures)
    page = (f"<!doctype html><meta charset=utf-8><title>Lambda-Hat sweep</title><style>{STYLE}</style>"
            f"<h1>Lambda-Hat sweep</h1><p>{len(table)} finished runs ({suspect} suspect), {len(failures)} failed. "
            f"A suspect run's diagnostics say its estimate cannot be trusted; R-hat above {R_HAT_WARN}, bulk "
            f"ESS below {health.ESS_PER_CHAIN} per chain and VI's Pareto k̂ above {health.PARETO_K_MAX} (q far from the posterior) "
            f"are highlighted.</p><table id=summary>{header}{''.join(rows)}"
            f"</table><h2>Summary</h2><div class=figs>{images}</div>")
    store.write_bytes(out / "index.html", page.encode())
    markdown = ["| target | sampler | status | λ̂ ± llc_err | λ true | rel. error | ESS bulk | R-hat | k̂ | wall s |",
                "|---|---|---|---|---|---|---|---|---|---|", *lines]
    store.write_bytes(out / "summary.md", ("\n".join(markdown) + "\n").encode())
    return {"runs": len(table), "failed": len(failures), "figures": len(figures)}

