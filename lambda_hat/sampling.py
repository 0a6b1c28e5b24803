"""Stage B: load a target, build its posterior, run one sampler, write the run folder."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import time
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lambda_hat import __version__, health, ids, model_file, models, posterior, store
from lambda_hat.data import is_labels
from lambda_hat.diagnostics import ess, r_hat, standard_error, summary
from lambda_hat.errors import SamplerFailure
from lambda_hat.provenance import code_version
from lambda_hat.runner import CACHE_SIZE, run_chains
from lambda_hat.samplers import SAMPLERS, batched, batches, program
from lambda_hat.spec import DataSpec, sections, typed
from lambda_hat.types import dispersed


MAX_DIVERGENT_FRACTION = 0.5


def settings_of(sampler_spec: dict):
    return SAMPLERS[sampler_spec["algorithm"]].Settings(**sampler_spec["settings"])


def static_of(meta: dict, sampler_spec: dict) -> str:
    """Everything the compiled functions of a run close over, as canonical JSON: the sampler's
    program (see ``samplers.program``), the model, n and the likelihood. It is their cache key,
    so runs (and targets) with equal keys share one compiled program."""
    data = sections(meta["spec"])["data"]
    return ids.canonical({"sampler": program(sampler_spec), "model": meta["spec"]["model"], "n": int(meta["n"]),
                          "likelihood": {name: getattr(data, name) for name in posterior.LIKELIHOOD}})


@functools.lru_cache(maxsize=CACHE_SIZE)
def compiled_parts(static: str):
    """``(factory, loss0, indices)`` for the runner, built from :func:`static_of`'s JSON alone:
    everything static, the arrays come as context (``x``, ``y``, ``w_star``) and the batched
    settings as ``hyper``; ``loss0(context)`` is the jitted full-batch loss at ``w_star``;
    ``indices`` the coordinates a weight-restricted run samples (``None``: all)."""
    static_parts = json.loads(static)
    model = typed("model", static_parts["model"])
    likelihood, n = DataSpec(**static_parts["likelihood"]), static_parts["n"]
    program_spec = static_parts["sampler"]
    module = SAMPLERS[program_spec["algorithm"]]
    base = module.Settings(**program_spec["settings"])
    dtype = jnp.dtype(base.dtype)
    network = models.build(model, dtype, model_file.copy_of(static_parts["model"].get("sha256")))
    template = models.cast(network.init(jax.random.key(0)), dtype)
    _, _, apply_flat = models.flat(network, template)
    indices = models.select(template, base.restrict)

    def factory(context, hyper):
        settings = dataclasses.replace(base, **hyper)
        loss = posterior.make_loss(apply_flat, context["x"], context["y"], likelihood)
        post = posterior.build(loss, context["w_star"], n, settings.beta0, settings.gamma,
                               getattr(settings, "batch_size", 0), indices)
        algorithm = dispersed(module.build(settings, post.problem), post.problem, getattr(settings, "init_spread", 0.0))
        return algorithm, post.loss, post.problem.position

    @jax.jit
    def loss0(context):
        return posterior.make_loss(apply_flat, context["x"], context["y"], likelihood)(context["w_star"])

    return factory, loss0, indices


def estimate(meta: dict, params: dict, arrays: dict, sampler_spec: dict, progress=None) -> tuple[dict, dict]:
    """Run the sampler on a loaded target; returns ``(analysis fields, trace arrays)``."""
    [result] = estimate_batch(meta, params, arrays, [sampler_spec], progress)
    if isinstance(result, Exception):
        raise result
    return result


def estimate_batch(meta: dict, params: dict, arrays: dict, specs: list[dict], progress=None) -> list:
    """Run sampler specs of one program (see ``samplers.program``) on a loaded target, as one batch.

    Returns, per spec, ``(analysis fields, trace arrays)`` or the exception its own analysis raised
    (a :class:`SamplerFailure` for a diverging run, which fails alone). Each run's numbers are those it gets
    when it runs alone; its ``walltime_sec`` is its share of the batch's.
    """
    first = settings_of(specs[0])
    dtype = jnp.dtype(first.dtype)
    labels = is_labels(arrays["Y"])                 # classification: integer labels stay integers
    context = {"x": jnp.asarray(arrays["X"], dtype), "y": jnp.asarray(arrays["Y"], None if labels else dtype),
               "w_star": jnp.asarray(params["w_star"], dtype)}
    static = static_of(meta, specs[0])
    factory, reference, indices = compiled_parts(static)
    loss0 = float(reference(context))
    module = SAMPLERS[specs[0]["algorithm"]]
    every = [settings_of(spec) for spec in specs]
    hyper = {name: np.asarray([getattr(s, name) for s in every], dtype) for name in batched(specs[0])}
    n = int(meta["n"])
    rules = [precise_enough(s, loss0, posterior.nbeta(n, s.beta0)) for s in every]
    started = time.perf_counter()
    batch = run_chains(factory, context, [jax.random.key(s.seed) for s in every], hyper, first.chains,
                       first.draws, cache_key=static, progress=progress,
                       stop=(lambda run, loss, info: rules[run](loss, info)) if any(s.target_rel_mcse for s in every) else None)
    share = (time.perf_counter() - started) / len(specs)
    results = []
    for settings, chains in zip(every, batch):
        try:
            results.append(analyse(meta, module, settings, chains, loss0, share, len(specs),
                                   int(meta["d"]) if indices is None else len(indices)))
        except Exception as err:  # noqa: BLE001 - one run's failure is its own
            results.append(err)
    return results


#: draws per chain before a run's precision is first checked: R-hat and ESS of shorter chains are
#: too noisy to stop on
MIN_DRAWS = 50


def precise_enough(settings, loss0: float, n_beta: float):
    """A run's stop rule (see ``runner.StopRule``): ``"precision"`` once MCSE(λ̂) / |λ̂| is at most
    ``settings.target_rel_mcse`` and R-hat and bulk ESS pass :mod:`health`'s thresholds **at two
    looks in a row**; never with target 0.

    A rule that stops at the first look that passes picks, among the noisy MCSEs along the way,
    one that happens to be small, and a chain that has not yet reached a valley's far side looks
    precise for a while: the next look, with more draws, must agree."""
    passed = []

    def passes(loss: np.ndarray, info: dict) -> bool:
        llc = posterior.llc(loss, loss0, n_beta) - chain_bias(info)
        if settings.chains >= 2 and not r_hat(llc) <= health.R_HAT_MAX:     # NaN: not converged either
            return False
        bulk = ess(llc, iid=settings.iid)                                   # the costlier check second
        if not bulk >= health.ess_min(settings.chains):
            return False
        return relative_mcse(float(np.mean(llc)), standard_error(llc, settings.iid)) <= settings.target_rel_mcse

    def rule(loss: np.ndarray, info: dict) -> str | None:
        if not settings.target_rel_mcse or loss.shape[1] < MIN_DRAWS:
            return None
        passed.append(passes(loss, info))
        return "precision" if passed[-2:] == [True, True] else None

    return rule


def chain_bias(info: dict):
    """Each chain's own bias estimate (``[chain, 1]``) where its sampler makes one per draw (an
    ``Info.bias`` field), else 0. Each chain adapts its own step and preconditioner, so each is
    biased by its own amount: corrected chain by chain, their draws are comparable, and R-hat sees
    how they mix rather than how their steps differ (uncorrected, SGLD's chains on a regular
    model kept R-hat above 1.01 at ESS 800)."""
    bias = info.get("bias")
    return 0.0 if bias is None else np.mean(np.asarray(bias, dtype=float), axis=1, keepdims=True)


def relative_mcse(mean: float, sem: float) -> float:
    """The MCSE of a mean over its magnitude (NaN where undefined)."""
    return sem / abs(mean) if mean and math.isfinite(sem) else float("nan")


def analyse(meta: dict, module, settings, chains, loss0: float, walltime: float, batch_runs: int,
            d_sampled: int) -> tuple[dict, dict]:
    """The analysis fields and trace arrays of one run's chains (``module``: its sampler's;
    ``d_sampled``: how many parameters it sampled); raises :class:`SamplerFailure`."""
    n = int(meta["n"])
    n_beta = posterior.nbeta(n, settings.beta0)
    raw = posterior.llc(chains.loss, loss0, n_beta)
    llc = raw - chain_bias(chains.info)
    if not np.all(np.isfinite(llc)):
        bad = int(np.sum(~np.isfinite(llc)))
        raise SamplerFailure(f"{bad} of {llc.size} draws are NaN or inf ({settings.diverged_hint})")
    extra = module.summarize(settings, chains.info, chains.warmup_info, raw,
                             lambda loss: posterior.llc(loss, loss0, n_beta))
    if extra.get("divergent_fraction", 0.0) > MAX_DIVERGENT_FRACTION:
        raise SamplerFailure(f"{extra['divergent_fraction']:.0%} of transitions diverged")
    stats = summary(llc, settings.iid)
    mean = stats["mean"]
    llc_true = meta.get("llc_true")
    fields = {
        "llc_mean": mean, "llc_err": error_bar(stats, extra), "llc_raw": float(np.mean(raw)), "llc_std": stats["std"], "llc_sem": stats["sem"],
        "ess_bulk": stats["ess_bulk"], "ess_tail": stats["ess_tail"], "r_hat": stats["r_hat"],
        "walltime_sec": walltime, "batch_runs": batch_runs, "grad_evals": chains.grad_evals, "n": n,
        "d": int(meta["d"]), "d_sampled": d_sampled, "beta": n_beta / n, "gamma": settings.gamma, "chains": settings.chains,
        "llc_min": float(np.min(raw)), "grad_norm": meta.get("training", {}).get("grad_norm"),
        "draws": int(chains.loss.shape[1]), "draws_max": settings.draws, "target_rel_mcse": settings.target_rel_mcse, "llc_rel_mcse": relative_mcse(mean, stats["sem"]),
        "stop_reason": stop_reason(settings, chains), "loss0": loss0, "llc_true": llc_true,
        "llc_rel_error": (mean - llc_true) / llc_true if llc_true else None,
        **extra,
    }
    trace = {"loss": chains.loss, "llc": llc, **{f"info_{k}": v for k, v in chains.info.items()},
             **{f"warmup_{k}": v for k, v in chains.warmup_info.items() if np.ndim(v) >= 1}}
    return fields, trace


#: how uncertain a sampler's own first-order bias estimate is taken to be, as a share of it: the
#: estimate is exact to first order on a Gaussian; on singular valleys it recovered between a
#: quarter and all of the gap to a long HMC run (docs/accuracy.md, § Error bars)
BIAS_UNCERTAINTY = 0.5

#: the share of refined VI's twin gap (``refine_gap``) taken as its draws' own distance from
#: settled: twins started twice as far from w* end further off on the same side as the draws, or
#: bracket the posterior's λ̂; on the tuning DLNs half the gap covered every draw's miss
#: (docs/accuracy.md, § VI's twins)
TWIN_UNCERTAINTY = 0.5


def error_bar(stats: dict, extra: dict) -> float:
    """``llc_err``: the MCSE of the draws (already corrected chain by chain where the sampler
    estimates its own bias, see :func:`chain_bias`) and, in quadrature, that estimate's
    uncertainty (its standard error ``llc_bias_se`` and :data:`BIAS_UNCERTAINTY` of ``llc_bias``),
    or refined VI's drift (how far λ̂ still moved, relative, times λ̂) and :data:`TWIN_UNCERTAINTY`
    of its twins' gap (with that share of its standard error)."""
    parts = [stats["sem"]]
    bias, bias_se = extra.get("llc_bias"), extra.get("llc_bias_se")
    if health.finite(bias):
        parts += [bias_se if health.finite(bias_se) else 0.0, BIAS_UNCERTAINTY * bias]
    drift = extra.get("refine_drift")
    if health.finite(drift):
        parts.append(drift * stats["mean"])
    gap, gap_se = extra.get("refine_gap"), extra.get("refine_gap_se")
    if health.finite(gap):
        parts += [TWIN_UNCERTAINTY * value * stats["mean"] for value in (gap, gap_se if health.finite(gap_se) else 0.0)]
    return math.hypot(*parts)


def stop_reason(settings, chains) -> str:
    """Why a run's draws ended: ``precision`` (its target was met), ``max_draws`` (the target was
    not met within ``draws``) or ``fixed`` (no target: a fixed budget)."""
    if chains.stopped:
        return chains.stopped
    return "max_draws" if settings.target_rel_mcse else "fixed"


class RunResult(NamedTuple):
    """What became of one sampler plan: its run folder, whether it ran now, and its error if it failed."""

    plan: dict
    folder: Path
    ran: bool
    error: Exception | None = None


def sample(target_folder: Path, plan: dict, force: bool = False, progress=None,
           out: Path | None = None, lock: bool = True) -> tuple[Path, bool]:
    """Stage B for one target and one sampler plan; returns ``(run folder, ran)``; a failure
    re-raises after writing ``error.json`` (see :func:`sample_all`)."""
    [result] = sample_all(target_folder, [plan], force, (lambda plans: progress) if progress else None, out, lock)
    if result.error is not None:
        raise result.error
    return result.folder, result.ran


def sample_all(target_folder: Path, plans: list[dict], force: bool = False, progress=None,
               out: Path | None = None, lock: bool = True, batch: int = 0) -> list[RunResult]:
    """Stage B for one target and several sampler plans, one :class:`RunResult` per plan.

    Each run folder is ``run_<run_id>`` inside the target folder, or inside ``out`` (Nextflow keeps
    each task's outputs in its own folder). Finished runs are kept unless ``force``; the others
    run in batches of one compiled program (at most ``batch`` runs each, 0: unbounded). A run
    that fails, alone or with its batch, gets ``error.json`` and its error in its result; the
    other runs go on. ``progress(plans)``, if given, returns the ``(done, total, phase)`` callback
    of the batch of ``plans`` starting now. ``lock=False`` skips the folder locks (private folders).
    """
    target_folder = Path(target_folder)
    meta, params, arrays = store.read_target(target_folder)
    if (target_folder / model_file.COPY).is_file():     # the target's own copy of its model file
        model_file.remember(target_folder / model_file.COPY)
    folders = [store.run_dir(out or target_folder, ids.run_id(meta["target_id"], plan["spec"])) for plan in plans]
    first = {folder: folders.index(folder) for folder in folders}     # a plan listed twice runs once
    results: dict[int, RunResult] = {}
    with contextlib.ExitStack() as stack:
        for folder in sorted(first):                 # one order everywhere: no two processes deadlock
            stack.enter_context(store.locked(folder, enabled=lock))
        todo = []
        for index in first.values():
            folder = folders[index]
            if not force and store.finished(folder / "analysis.json", folder / "trace.npz",
                                            required=store.ANALYSIS_KEYS):
                results[index] = RunResult(plans[index], folder, False)
            else:
                todo.append(index)
        for group in batches([plans[i] for i in todo], batch):
            chosen = [todo[i] for i in group]
            update = progress([plans[i] for i in chosen]) if progress else None
            for index, result in zip(chosen, _run_batch(meta, params, arrays, [plans[i] for i in chosen],
                                                        [folders[i] for i in chosen], update)):
                results[index] = result
    return [results[first[folder]]._replace(plan=plan) for plan, folder in zip(plans, folders)]


def _run_batch(meta: dict, params: dict, arrays: dict, plans: list[dict], folders: list[Path],
               progress) -> list[RunResult]:
    records = []
    for plan, folder in zip(plans, folders):
        (folder / "analysis.json").unlink(missing_ok=True)
        spec = plan["spec"]
        record = {"target_id": meta["target_id"], "run_id": store.run_id_of(folder),
                  "sampler": plan.get("name", spec["algorithm"]), "algorithm": spec["algorithm"],
                  "sampler_id": plan.get("sampler_id"), "spec": spec, "target_spec": meta["spec"]}
        store.write_json(folder / "sampler.json", record)
        records.append(record)
    try:
        outcomes = estimate_batch(meta, params, arrays, [plan["spec"] for plan in plans], progress)
    except Exception as err:  # noqa: BLE001 - the whole batch failed: every run records why
        outcomes = [err] * len(plans)
    results = []
    for plan, folder, record, outcome in zip(plans, folders, records, outcomes):
        if isinstance(outcome, Exception):
            store.write_error(folder, record, outcome)
            results.append(RunResult(plan, folder, True, outcome))
            continue
        fields, trace = outcome
        store.write_npz(folder / "trace.npz", trace)
        labels = meta.get("labels", {})
        analysis = {"target_id": meta["target_id"], "run_id": record["run_id"], "sampler": record["sampler"],
                    "algorithm": record["algorithm"], **fields,
                    "model": labels.get("model"), "data": labels.get("data"), "teacher": labels.get("teacher"),
                    "checkpoint": labels.get("checkpoint"),
                    "seed": meta["spec"]["seed"], "lambda_hat_version": __version__, "code_version": code_version(),
                    "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        analysis["status"], analysis["warnings"] = health.verdict(analysis)
        store.write_json(folder / "analysis.json", analysis)
        (folder / "error.json").unlink(missing_ok=True)
        results.append(RunResult(plan, folder, True))
    return results
