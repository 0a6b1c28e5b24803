"""Stage B: load a target, build its posterior, run one sampler, write the run folder."""

from __future__ import annotations

import time
import traceback
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from lambda_hat import __version__, health, models, posterior, store
from lambda_hat.config import ids
from lambda_hat.diagnostics import summary
from lambda_hat.config.schema import sections
from lambda_hat.runner import run_chains
from lambda_hat.samplers import SAMPLERS
from lambda_hat.targets import load


class SamplerFailure(Exception):
    """A run that produced no usable estimate (NaN/inf draws, a storm of divergences)."""


MAX_DIVERGENT_FRACTION = 0.5


def settings_of(sampler_spec: dict):
    return SAMPLERS[sampler_spec["algorithm"]].Settings(**sampler_spec["settings"])


def make_factory(meta: dict, sampler_spec: dict):
    """``(factory, apply_flat, cache_key)`` for the runner: everything static, the arrays come as context."""
    parts = sections(meta["spec"])
    model, data = parts["model"], parts["data"]
    settings = settings_of(sampler_spec)
    module = SAMPLERS[sampler_spec["algorithm"]]
    dtype = jnp.dtype(settings.dtype)
    template = models.init(jax.random.key(0), model.layer_widths(), model.bias, dtype=dtype)
    unravel = ravel_pytree(template)[1]
    n = int(meta["n"])

    def apply_flat(w, xs):
        return models.apply(unravel(w), xs, model.activation, model.skip)

    def factory(context):
        loss = posterior.make_loss(apply_flat, context["x"], context["y"], data)
        post = posterior.build(loss, context["w_star"], n, settings.beta0, settings.gamma,
                               getattr(settings, "batch_size", 0))
        return module.build(settings, post.problem), post.loss, context["w_star"]

    static = {"sampler": sampler_spec, "model": meta["spec"]["model"], "n": n,
              "likelihood": [data.noise_model, data.noise_scale, data.noise_df]}
    return factory, apply_flat, ids.canonical(static)


def estimate(meta: dict, params: dict, arrays: dict, sampler_spec: dict, progress=None) -> tuple[dict, dict]:
    """Run the sampler on a loaded target; returns ``(analysis fields, trace arrays)``."""
    settings = settings_of(sampler_spec)
    dtype = jnp.dtype(settings.dtype)
    context = {"x": jnp.asarray(arrays["X"], dtype), "y": jnp.asarray(arrays["Y"], dtype),
               "w_star": jnp.asarray(params["w_star"], dtype)}
    factory, apply_flat, cache_key = make_factory(meta, sampler_spec)
    data = sections(meta["spec"])["data"]
    loss0 = float(jax.jit(lambda c: posterior.make_loss(apply_flat, c["x"], c["y"], data)(c["w_star"]))(context))
    n = int(meta["n"])
    nbeta = n * posterior.temperature(n, settings.beta0)
    started = time.perf_counter()
    chains = run_chains(factory, context, jax.random.key(settings.seed), settings.chains, settings.draws,
                        cache_key=cache_key, progress=progress)
    walltime = time.perf_counter() - started
    llc = posterior.llc(chains.loss, loss0, nbeta)
    if not np.all(np.isfinite(llc)):
        bad = int(np.sum(~np.isfinite(llc)))
        raise SamplerFailure(f"{bad} of {llc.size} draws are NaN or inf (the chains diverged; "
                             f"try a smaller step_size)")
    extra = sampler_diagnostics(chains.info, chains.warmup_info)
    if "acceptance_rate" in extra and hasattr(settings, "target_acceptance"):
        extra["target_acceptance"] = settings.target_acceptance
    if extra.get("divergent_fraction", 0.0) > MAX_DIVERGENT_FRACTION:
        raise SamplerFailure(f"{extra['divergent_fraction']:.0%} of transitions diverged")
    stats = summary(llc)
    llc_true = meta.get("llc_true")
    fields = {
        "llc_mean": stats["mean"], "llc_std": stats["std"], "llc_sem": stats["sem"],
        "ess_bulk": stats["ess_bulk"], "ess_tail": stats["ess_tail"], "r_hat": stats["r_hat"],
        "walltime_sec": walltime, "grad_evals": chains.grad_evals, "n": n, "d": int(meta["d"]),
        "beta": nbeta / n, "gamma": settings.gamma, "chains": settings.chains, "draws": settings.draws,
        "loss0": loss0, "llc_true": llc_true,
        "llc_rel_error": (stats["mean"] - llc_true) / llc_true if llc_true else None,
        **extra,
    }
    trace = {"loss": chains.loss, "llc": llc, **{f"info_{k}": v for k, v in chains.info.items()},
             **{f"warmup_{k}": v for k, v in chains.warmup_info.items() if np.ndim(v) >= 1}}
    return fields, trace


def sampler_diagnostics(info: dict, warmup_info: dict) -> dict:
    """Scalar sampler diagnostics (acceptance, divergences, step size, energy error, ELBO)."""
    out = {}
    if "acceptance_rate" in info:
        out["acceptance_rate"] = float(np.mean(info["acceptance_rate"]))
    if "is_divergent" in info:
        out["divergences"] = int(np.sum(info["is_divergent"]))
        out["divergent_fraction"] = float(np.mean(info["is_divergent"]))
    if "step_size" in info:
        out["step_size"] = float(np.mean(info["step_size"]))
    if "energy_change" in info:
        out["energy_change_var"] = float(np.var(info["energy_change"]))
    if "elbo" in warmup_info:
        out["elbo_final"] = float(np.mean(warmup_info["elbo"][..., -max(1, warmup_info["elbo"].shape[-1] // 10):]))
    return out


def sample(target_folder: Path, plan: dict, force: bool = False, progress=None,
           out: Path | None = None, lock: bool = True) -> tuple[Path, bool]:
    """Stage B for one target and one sampler plan; returns ``(run folder, ran)``.

    The run folder is ``run_<run_id>`` inside the target folder, or inside ``out`` (Nextflow keeps
    each task's outputs in its own folder). A finished run is kept unless ``force``. A failure
    writes ``error.json`` and re-raises. ``lock=False`` skips the folder lock (a private folder).
    """
    target_folder = Path(target_folder)
    meta, params, arrays = load(target_folder)
    spec = plan["spec"]
    run_id = ids.run_id(meta["target_id"], spec)
    folder = Path(out or target_folder) / f"run_{run_id}"
    with store.locked(folder, enabled=lock):
        if not force and store.finished(folder / "analysis.json", folder / "trace.npz", required=store.ANALYSIS_KEYS):
            return folder, False
        (folder / "analysis.json").unlink(missing_ok=True)
        record = {"target_id": meta["target_id"], "run_id": run_id, "sampler": plan.get("name", spec["algorithm"]),
                  "algorithm": spec["algorithm"], "sampler_id": plan.get("sampler_id"), "spec": spec,
                  "target_spec": meta["spec"]}
        store.write_json(folder / "sampler.json", record)
        try:
            fields, trace = estimate(meta, params, arrays, spec, progress)
        except Exception as err:
            store.write_json(folder / "error.json", {
                **record, "error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()})
            raise
        store.write_npz(folder / "trace.npz", trace)
        labels = meta.get("labels", {})
        analysis = {"target_id": meta["target_id"], "run_id": run_id, "sampler": record["sampler"],
                    "algorithm": spec["algorithm"], **fields,
                    "model": labels.get("model"), "data": labels.get("data"), "teacher": labels.get("teacher"),
                    "seed": meta["spec"]["seed"], "lambda_hat_version": __version__,
                    "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        analysis["status"], analysis["warnings"] = health.verdict(analysis)
        store.write_json(folder / "analysis.json", analysis)
        (folder / "error.json").unlink(missing_ok=True)
        return folder, True
