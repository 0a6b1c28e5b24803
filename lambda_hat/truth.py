"""Learning coefficients known in closed form.

- Regular models (a network without hidden layers): ``lambda = d / 2``; for multinomial logistic
  regression over K classes (softmax is unchanged by adding one vector to every class's weights)
  ``lambda = (K - 1)(p + 1) / 2`` with biases, ``(K - 1) p / 2`` without. Where the inputs are
  degenerate (a constant pixel, collinear columns), ``p + 1`` becomes the rank of ``[X, 1]``.
- Deep linear networks (Aoyagi 2024, Theorem 1; Furman & Lau 2024, Theorem B.1): exact
  ``lambda`` and multiplicity ``theta`` for any widths ``H_0 ... H_M`` and product rank ``r``, where
  the data come from such a teacher (a user's data file or a packaged data set carry no rank).
"""

from __future__ import annotations

import math
from fractions import Fraction

from lambda_hat.errors import InputError
from lambda_hat.spec import DataSpec, ModelSpec, TeacherSpec


def dln_coefficient(widths: list[int], rank: int) -> tuple[Fraction, int]:
    """``(lambda, theta)`` of a deep linear network with ``widths`` (input ... output) at rank ``rank``.

    ``Delta_s = H_s - r``; ``S`` is the prefix of the sorted Deltas (never splitting ties) with
    ``|S| = l + 1`` such that ``sum S >= l max S`` and ``sum S < l min(complement)``. With
    ``T = sum S``, ``Q = sum S^2``, ``a = T - (ceil(T/l) - 1) l``:
    ``lambda = r (H_0 + H_M - r) / 2 + (T^2 - l Q + a (l - a)) / (4 l)``, ``theta = a (l - a) + 1``.
    """
    if len(widths) < 2 or min(widths) < 1:
        raise InputError(f"widths must hold at least an input and an output width >= 1, got {widths}")
    if not 0 <= rank <= min(widths):
        raise InputError(f"rank must be between 0 and the narrowest width {min(widths)}, got {rank}")
    base = Fraction(rank * (widths[0] + widths[-1] - rank), 2)
    deltas = sorted(width - rank for width in widths)
    if deltas[0] == 0:
        return base, 1
    for size in range(2, len(deltas) + 1):
        chosen, rest = deltas[:size], deltas[size:]
        ell, total = size - 1, sum(chosen)
        smallest_rest = rest[0] if rest else math.inf
        if max(chosen) < smallest_rest and total >= ell * max(chosen) and total < ell * smallest_rest:
            break
    else:  # pragma: no cover - the theorem guarantees a qualifying prefix
        raise ArithmeticError(f"no index set satisfies Aoyagi's conditions for {widths}, r={rank}")
    a = total - (math.ceil(Fraction(total, ell)) - 1) * ell
    squares = sum(delta * delta for delta in chosen)
    value = base + Fraction(total * total - ell * squares + a * (ell - a), 4 * ell)
    return value, a * (ell - a) + 1


def is_deep_linear(model: ModelSpec) -> bool:
    return model.activation == "identity" and not model.bias and not model.skip


def known_coefficient(model: ModelSpec, teacher: TeacherSpec, data: DataSpec, design_rank: int | None = None) -> float | None:
    """The true learning coefficient of a target, where it is known in closed form; else ``None``.

    A built-in network without hidden layers is regular (``design_rank``: the rank of the inputs
    ``[X, 1]``, or ``X`` without biases, where it may fall short of the input width). A deep linear
    student with a deep linear teacher (``dln``, or a random teacher of the student's own linear
    architecture) follows Aoyagi, where that teacher made the data.
    """
    if not model.is_mlp:
        return None
    widths = model.layer_widths()
    if not model.hidden():
        features = design_rank if design_rank is not None else model.in_dim + model.bias
        outputs = model.out_dim - 1 if data.noise_model == "categorical" else model.out_dim
        return outputs * features / 2
    if (is_deep_linear(model) and teacher.kind in ("dln", "model") and data.source == "synthetic"
            and data.noise_model != "categorical"):
        rank = teacher.rank if teacher.kind == "dln" and teacher.rank >= 0 else min(widths)
        return float(dln_coefficient(widths, rank)[0])
    return None
