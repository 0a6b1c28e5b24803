"""A finished run's health verdict from its own diagnostics: ``ok``, or ``suspect`` with reasons.

A run that produced no estimate is ``failed`` elsewhere; this module judges the estimates that
exist, so that none whose diagnostics say it cannot be trusted is shown as plain ok. The
thresholds are defined here once and used by the runs, the results table, the summaries and the
gallery.
"""

from __future__ import annotations

import math

#: rank-normalised split R-hat above this: the chains disagree (Vehtari et al. 2021)
R_HAT_MAX = 1.01
#: bulk effective sample size below this per chain (over all chains: 400 for 4): too few
#: independent draws for the mean, and for R-hat to be reliable (Vehtari et al. 2021)
ESS_PER_CHAIN = 100
#: fraction of divergent transitions above this: the sampler missed part of the posterior
DIVERGENT_MAX = 0.01
#: mean acceptance further than this from the adaptation's target: the step size did not adapt
ACCEPTANCE_GAP = 0.2
#: Pareto k-hat of importance weights (tempered posterior over VI's q) above this: q is not close
PARETO_K_MAX = 0.7
#: relative change of VI's λ̂ over the second half of its draws' refinement above this (and beyond
#: twice its standard error): the refining chains had not settled
REFINE_DRIFT_MAX = 0.05
#: relative gap between the λ̂ of refined VI's draws and of their twins (by default started twice
#: as far from w*) above this (and beyond twice its standard error): where the refinement ends
#: depends on where it starts. Measured on the tuning DLNs: 4-9 % where refined VI was within 5 % of
#: HMC, 19.7 % where it was 11 % low (ok, its error bar covering it), 92 % where it still drifted
REFINE_GAP_MAX = 0.2
#: acceptance of VI's refinement steps below this: its chains barely left q's draws, so a small
#: drift would say nothing
REFINE_ACCEPTANCE_MIN = 0.2
#: a draw whose nβ (L - L(w*)) is below minus this: the loss falls below L(w*) near it, so w* is not a
#: minimum (at one, no draw goes below; a well-trained w* misses its minimum by far less than this)
BELOW_MINIMUM = 1.0
#: λ̂ more than this times d/2 (the learning coefficient of a regular model of d parameters, the
#: largest there is), beyond twice its error bar: the chains cannot have sampled the posterior
#: around w* (a regular model's λ̂ itself scatters around d/2)
ABOVE_REGULAR = 1.05
#: an unadjusted sampler's own bias estimate above this share of λ̂: a first-order correction that
#: large is not to be trusted (the step or the gradient noise is too large)
BIAS_MAX = 0.2
#: MCLMC's energy error per parameter, Var[ΔE] / d, above this: its step is too large for a sampler
#: without a Metropolis correction (the tuner aims at 5e-4; measured at defaults up to 0.022 within
#: 2.2 % of λ, and 0.27 at desired_energy_var 0.5, 10-13 % low)
ENERGY_VAR_MAX = 0.05
#: beta0 outside this range: λ̂ at a β far from 1 / log n carries finite-n terms that grow with
#: |log beta0| (measured at defaults: +21 % at 0.01, +14 % at 100 on deep linear networks)
BETA0_RANGE = (0.1, 10.0)


def finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def ess_min(chains) -> int:
    """The bulk ESS a run of ``chains`` chains needs (:data:`ESS_PER_CHAIN` each; one chain where
    the number is missing)."""
    try:
        return ESS_PER_CHAIN * max(int(chains), 1)
    except (TypeError, ValueError):            # None, NaN, pandas' NA
        return ESS_PER_CHAIN


def refined(fields: dict) -> bool:
    """Whether a run is VI whose draws were refined by Langevin steps: judged by its drift, not by
    q's k-hat (its estimate does not come from q)."""
    return fields.get("algorithm") == "vi" and finite(fields.get("refine_drift"))


def reasons(fields: dict) -> list[str]:
    """Why a run's estimate is not to be trusted (empty when nothing is wrong).

    ``fields`` are the run's ``analysis.json`` entries: ``llc_mean``, ``llc_min`` (the lowest
    per-draw λ̂), ``d`` (``d_sampled`` where a part was sampled), ``llc_std``, ``r_hat``,
    ``ess_bulk``, ``chains``, ``algorithm`` and, where the sampler has them, ``divergent_fraction``,
    ``acceptance_rate`` with ``target_acceptance``, and VI's ``pareto_k`` or, for VI whose draws
    were refined by Langevin steps, ``refine_drift`` with ``refine_drift_se`` and ``refine_gap`` with
    ``refine_gap_se``. Plain VI is judged by
    ``pareto_k``, which checks q against the posterior (R-hat and ESS of iid draws say nothing about
    its bias, large on singular models); refined VI by its drift and its twins' gap, since its
    estimate comes from the refined draws, not from q.
    """
    found = []
    mean, lowest, d = fields.get("llc_mean"), fields.get("llc_min"), fields.get("d_sampled") or fields.get("d")
    if finite(lowest) and lowest < -BELOW_MINIMUM:
        found.append(f"w* is not a minimum: draws reach nβ(L - L(w*)) = {lowest:.3g} (the loss falls below L(w*)), so "
                     "λ̂ describes a point still descending (a checkpoint mid-training, or an untrained w*)")
    elif finite(mean) and mean <= 0:
        found.append(f"λ̂ = {mean:.3g} ≤ 0: at a minimum λ̂ is positive")
    bar = next((fields[key] for key in ("llc_err", "llc_sem") if finite(fields.get(key))), 0.0)
    if finite(mean) and finite(d) and mean - 2 * bar > ABOVE_REGULAR * d / 2:
        found.append(f"λ̂ = {mean:.4g} is above d/2 = {d / 2:g}, the most {d} parameters can have: the chains left "
                     "the neighbourhood of w*, or the step was too large")
    found += settings_reasons(fields)
    std, r_hat, ess = fields.get("llc_std"), fields.get("r_hat"), fields.get("ess_bulk")
    if finite(std) and std == 0:
        found.append("the chains did not move (every draw has the same λ̂)")
    elif (fields.get("chains") or 0) >= 2 and not finite(r_hat):
        found.append("no R-hat (the chains did not vary)")
    if finite(r_hat) and r_hat > R_HAT_MAX:
        found.append(f"R-hat {r_hat:.4g} > {R_HAT_MAX}")
    needed = ess_min(fields.get("chains"))
    if finite(ess) and ess < needed:
        found.append(f"bulk ESS {ess:.0f} < {needed} ({ESS_PER_CHAIN} per chain)")
    divergent = fields.get("divergent_fraction")
    if finite(divergent) and divergent > DIVERGENT_MAX:
        found.append(f"{divergent:.1%} of transitions diverged (> {DIVERGENT_MAX:.0%})")
    accepted, target = fields.get("acceptance_rate"), fields.get("target_acceptance")
    if finite(accepted) and finite(target) and abs(accepted - target) > ACCEPTANCE_GAP:
        found.append(f"acceptance {accepted:.2f} is far from its target {target:.2f}")
    if refined(fields):
        drift, drift_se = fields["refine_drift"], fields.get("refine_drift_se")
        if beyond(drift, drift_se, REFINE_DRIFT_MAX):
            found.append(f"λ̂ still moved {drift:+.1%} over the second half of the refinement (> {REFINE_DRIFT_MAX:.0%}): "
                         "more refine_steps")
        gap, gap_se = fields.get("refine_gap"), fields.get("refine_gap_se")
        if finite(gap) and beyond(gap, gap_se, REFINE_GAP_MAX):
            found.append(f"twin chains started further from w* ended {gap:+.1%} away (> {REFINE_GAP_MAX:.0%}): "
                         "where the refinement ends depends on where it starts; more refine_steps, or hmc")
        if finite(accepted) and accepted < REFINE_ACCEPTANCE_MIN:
            found.append(f"the refinement accepted {accepted:.0%} of its steps (< {REFINE_ACCEPTANCE_MIN:.0%}): "
                         "its draws stayed near q's; a smaller refine_step")
    elif fields.get("algorithm") == "vi":
        pareto_k = fields.get("pareto_k")
        if not finite(pareto_k):
            found.append("VI's fit is not checked against the posterior (no Pareto k-hat); "
                         "VI overestimates singular models, see docs/accuracy.md")
        elif pareto_k > PARETO_K_MAX:
            found.append(f"Pareto k-hat {pareto_k:.2f} > {PARETO_K_MAX}: q is far from the posterior")
    return found


def beyond(value: float, se, limit: float) -> bool:
    """Whether a relative change is larger than ``limit`` and, where its standard error is known,
    more than twice that error (a change within its own noise says nothing)."""
    return abs(value) > limit and not (finite(se) and abs(value) <= 2 * se)


def settings_reasons(fields: dict) -> list[str]:
    """Why a run's settings or its own error estimates make its λ̂ untrustworthy: a large bias
    estimate, a precision target not met, an energy error too large, a β far from 1 / log n, a
    localization as stiff as the loss."""
    found = []
    mean, bias = fields.get("llc_mean"), fields.get("llc_bias")
    if finite(bias) and finite(mean) and abs(bias) > BIAS_MAX * abs(mean):
        found.append(f"the sampler's own bias estimate {bias:.3g} is {abs(bias / mean):.0%} of λ̂ (> {BIAS_MAX:.0%}): "
                     "a smaller step_size or a larger batch_size")
    rel_mcse, target = fields.get("llc_rel_mcse"), fields.get("target_rel_mcse")
    if fields.get("stop_reason") == "max_draws" and finite(rel_mcse) and finite(target) and rel_mcse > target:
        found.append(f"the relative MCSE {rel_mcse:.3f} missed its target {target:g} within {fields.get('draws')} draws")
    energy, d = fields.get("energy_change_var"), fields.get("d_sampled") or fields.get("d")
    if finite(energy) and finite(d) and d and energy / d > ENERGY_VAR_MAX:
        found.append(f"energy error Var[ΔE]/d = {energy / d:.3g} > {ENERGY_VAR_MAX:g}: the step is too large for MCLMC "
                     "(a smaller desired_energy_var)")
    beta, n = fields.get("beta"), fields.get("n")
    if finite(beta) and finite(n) and n > 1:
        beta0 = beta * math.log(n)
        if not BETA0_RANGE[0] <= beta0 <= BETA0_RANGE[1]:
            found.append(f"beta0 = {beta0:.3g} is outside [{BETA0_RANGE[0]:g}, {BETA0_RANGE[1]:g}]: λ̂ is a learning "
                         "coefficient at β near 1 / log n")
        gamma = fields.get("gamma")
        if finite(gamma) and gamma >= beta * n:
            found.append(f"gamma = {gamma:.3g} ≥ nβ = {beta * n:.3g}: the localization, not the data, shapes the draws")
    return found


def verdict(fields: dict) -> tuple[str, str | None]:
    """``(status, warnings)``: ``("ok", None)`` or ``("suspect", "reason; reason")``."""
    found = reasons(fields)
    return ("suspect", "; ".join(found)) if found else ("ok", None)
