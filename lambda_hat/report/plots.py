"""Stage C: diagnostic plots of one run (``run_<id>/diagnostics/*.png``) or of one target.

Plots read only the artifacts on disk (``trace.npz``, ``analysis.json``, ``sampler.json``), never
the sampling path. Every file name is fixed per plot, so one plot never overwrites another.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lambda_hat import store  # noqa: E402


def save(figure, path: Path) -> str:
    """Write a figure as PNG atomically; return its file name."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    store.write_bytes(path, buffer.getvalue())
    return path.name


def per_chain(ax, values: np.ndarray, label: str) -> None:
    """Lines for ``values`` shaped ``[chain, draw]``."""
    for chain, row in enumerate(values):
        ax.plot(row, lw=0.7, alpha=0.8, label=f"chain {chain}")
    ax.set_xlabel("kept draw")
    ax.set_ylabel(label)


def llc_trace(trace: dict, analysis: dict, spec: dict):
    figure, ax = plt.subplots(figsize=(7, 3.2))
    per_chain(ax, trace["llc"], "λ̂ per draw")
    warmup = spec["settings"].get("warmup") or spec["settings"].get("steps", 0)
    ax.axvline(0, color="grey", ls=":", label=f"burn-in/warm-up: {warmup} steps discarded before draw 0")
    if analysis.get("llc_true") is not None:
        ax.axhline(analysis["llc_true"], color="k", ls="--", label="λ true")
    ax.set_title(f"{analysis['sampler']}: λ̂ trace")
    ax.legend(fontsize=7, loc="best")
    return figure


def running_mean(trace: dict, analysis: dict):
    llc = trace["llc"]
    steps = np.arange(1, llc.shape[1] + 1)
    mean = np.cumsum(llc, axis=1) / steps
    spread = np.sqrt(np.maximum(np.cumsum(llc ** 2, axis=1) / steps - mean ** 2, 0.0))
    ess_fraction = min(1.0, (analysis.get("ess_bulk") or llc.size) / llc.size)
    sem = spread / np.sqrt(np.maximum(steps * ess_fraction, 1.0))
    figure, ax = plt.subplots(figsize=(7, 3.2))
    for chain in range(llc.shape[0]):
        line, = ax.plot(steps, mean[chain], lw=1.0, label=f"chain {chain}")
        ax.fill_between(steps, mean[chain] - sem[chain], mean[chain] + sem[chain], color=line.get_color(), alpha=0.15)
    if analysis.get("llc_true") is not None:
        ax.axhline(analysis["llc_true"], color="k", ls="--", label="λ true")
    ax.set_xlabel("kept draw")
    ax.set_ylabel("running mean of λ̂ (± SEM)")
    ax.set_title(f"{analysis['sampler']}: running mean")
    ax.legend(fontsize=7)
    return figure


def sampler_figures(trace: dict, analysis: dict) -> dict:
    """``{file name: figure}`` of the sampler-specific plots this trace supports."""
    figures = {}
    if "info_acceptance_rate" in trace:
        figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 4.5), sharex=True)
        per_chain(top, trace["info_acceptance_rate"], "acceptance")
        if "info_is_divergent" in trace:
            chains, draws = np.nonzero(trace["info_is_divergent"])
            top.scatter(draws, np.zeros_like(draws), marker="x", color="red", label=f"divergent ({len(draws)})")
            top.legend(fontsize=7)
        per_chain(bottom, trace["info_step_size"], "step size")
        top.set_title(f"{analysis['sampler']}: acceptance and step size")
        figures["acceptance.png"] = figure
    if "info_energy_change" in trace:
        figure, ax = plt.subplots(figsize=(7, 3.2))
        per_chain(ax, trace["info_energy_change"], "energy change")
        ax.set_title(f"{analysis['sampler']}: MCLMC energy error")
        figures["energy_error.png"] = figure
    if "warmup_elbo" in trace:
        figure, ax = plt.subplots(figsize=(7, 3.2))
        for chain, row in enumerate(trace["warmup_elbo"]):
            ax.plot(row, lw=0.6, label=f"fit {chain}")
        ax.set_xlabel("optimization step")
        ax.set_ylabel("ELBO estimate")
        ax.set_title(f"{analysis['sampler']}: ELBO")
        ax.legend(fontsize=7)
        figures["elbo.png"] = figure
    return figures


def diagnose_run(run: Path, out: Path | None = None) -> dict:
    """Write every plot of a finished run to ``out`` (default ``run/diagnostics/``); returns what was plotted."""
    run = Path(run)
    if not (run / "analysis.json").is_file():
        raise store.StoreError(f"{run}: no analysis.json (a failed or unfinished run has no plots)")
    analysis = store.read_json(run / "analysis.json")
    trace = store.read_npz(run / "trace.npz")
    spec = store.read_json(run / "sampler.json")["spec"]
    out = Path(out or run / "diagnostics")
    figures = {"llc_trace.png": llc_trace(trace, analysis, spec), "llc_running_mean.png": running_mean(trace, analysis),
               **sampler_figures(trace, analysis)}
    files = [save(figure, out / name) for name, figure in figures.items()]
    record = {"run_id": analysis["run_id"], "sampler": analysis["sampler"], "files": files,
              "chains": int(trace["llc"].shape[0]), "draws": int(trace["llc"].shape[1]),
              "llc_true": analysis.get("llc_true")}
    store.write_json(out / "plots.json", record)
    return record


def diagnose_target(folder: Path) -> tuple[list[str], str | None]:
    """Training curve and student-vs-teacher predictions (train and fresh test inputs), from the
    target's saved student and teacher.

    Returns ``(files written, message)``; the message says why predictions were not plotted.
    """
    import jax
    import jax.numpy as jnp

    from lambda_hat import data as datasets
    from lambda_hat import models
    from lambda_hat.spec import sections

    folder = Path(folder)
    meta, params, arrays = store.read_target(folder)
    out = folder / "diagnostics"
    curve = meta["training"]["curve"]
    figure, ax = plt.subplots(figsize=(6, 3.2))
    steps = np.linspace(0, meta["training"]["steps"], len(curve))
    ax.plot(steps, curve, marker=".")
    ax.set_yscale("log" if min(curve) > 0 else "linear")
    ax.set(xlabel="training step", ylabel="L_n (full batch)", title=f"{meta['target_id']}: training")
    files = [save(figure, out / "training_curve.png")]
    parts = sections(meta["spec"])
    model = parts["model"]
    if parts["data"].source != "synthetic":
        where = parts["data"].path if parts["data"].source == "npz" else f"the packaged data set {parts['data'].source}"
        return files, f"{meta['target_id']}: the data come from {where}; there is no teacher to compare with"
    if parts["data"].noise_model == "categorical" or not model.is_mlp:
        return files, f"{meta['target_id']}: predictions are plotted for MLP regression targets only"
    layers, network = models.from_arrays(arrays, "teacher_layer"), meta.get("teacher_network")
    if not layers or not network:
        return files, f"{meta['target_id']}: built before targets saved their teacher; rebuild it (--force) to plot predictions"
    x = jnp.asarray(arrays["X"])
    test_spec = parts["data"].__class__(**{**parts["data"].__dict__, "n": min(500, meta["n"])})
    data_key = datasets.data_keys(meta["spec"]["seed"])[0]
    inputs = {"train": x, "test": datasets.sample_inputs(jax.random.fold_in(data_key, 99), test_spec, model.in_dim, x.dtype)}
    student = models.from_arrays(params)
    teacher = datasets.mlp_teacher(layers, network["activation"], network["skip"])
    figure, axes = plt.subplots(1, 2, figsize=(8, 3.6))
    for ax, (name, x) in zip(axes, inputs.items()):
        truth = np.asarray(teacher(x))[:, 0]
        fitted = np.asarray(models.apply(student, x, model.activation, model.skip))[:, 0]
        ax.scatter(truth, fitted, s=4, alpha=0.5)
        low, high = float(min(truth.min(), fitted.min())), float(max(truth.max(), fitted.max()))
        ax.plot([low, high], [low, high], "k--", lw=0.8)
        ax.set(xlabel="teacher output[0]", ylabel="student output[0]", title=f"{name} (n={len(truth)})")
    files.append(save(figure, out / "predictions.png"))
    return files, None
