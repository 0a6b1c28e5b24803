"""Known learning coefficients: Aoyagi's deep-linear formula against independent closed forms."""

from __future__ import annotations

from fractions import Fraction

import pytest

from lambda_hat.spec import DataSpec, ModelSpec, TeacherSpec
from lambda_hat.truth import dln_coefficient, known_coefficient


@pytest.mark.parametrize("widths, rank, value, multiplicity", [
    ((20, 30, 40, 30, 20), 5, 196, 3),            # worked example (notes §1.1)
    ((5, 3, 5), 0, Fraction(13, 2), 2),           # reduced-rank regression, devinterp's test cases
    ((5, 4, 5), 0, 8, 1),
    ((4, 3, 8), 0, 6, 1),
    ((8, 3, 4), 0, 6, 1),
    ((3, 8, 4), 0, 6, 1),
    ((2, 2, 2, 2), 0, Fraction(3, 2), 3),
    ((5, 5, 5, 5), 0, Fraction(17, 2), 3),
    ((5, 5, 5, 5), 2, 11, 1),
    ((5, 5, 5, 5), 5, Fraction(25, 2), 1),
    ((10, 20, 20, 10), 10, 50, 1),
    ((1, 1, 1, 1), 0, Fraction(1, 2), 3),         # scalar chain w1 w2 w3
    ((455, 395, 125, 350, 277, 261, 297), 28, Fraction(41093, 2), 3),
])
def test_aoyagi_known_cases(widths, rank, value, multiplicity):
    assert dln_coefficient(list(widths), rank) == (value, multiplicity)


def rrr(m: int, h: int, n: int, r: int) -> Fraction:
    """Aoyagi & Watanabe (2005): reduced-rank regression y = B A x (M inputs, H hidden, N outputs)."""
    if n + r <= m + h and m + r <= n + h and h + r <= m + n:
        extra = 0 if (m + h + n + r) % 2 == 0 else 1
        return Fraction(2 * (h + r) * (m + n) - (m - n) ** 2 - (h + r) ** 2 + extra, 8)
    if m + h < n + r:
        return Fraction(h * m - h * r + n * r, 2)
    if n + h < m + r:
        return Fraction(h * n - h * r + m * r, 2)
    return Fraction(m * n, 2)


def test_two_layer_case_matches_reduced_rank_regression():
    for m in range(1, 7):
        for h in range(1, 7):
            for n in range(1, 7):
                for r in range(0, min(m, h, n) + 1):
                    assert dln_coefficient([m, h, n], r)[0] == rrr(m, h, n, r), (m, h, n, r)


def test_properties_on_a_grid():
    for widths in ([3, 4, 2, 5], [2, 6, 3, 3, 4], [4, 4, 4], [6, 2, 5]):
        d = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
        values = [dln_coefficient(widths, r)[0] for r in range(min(widths) + 1)]
        assert values == sorted(values)                                   # non-decreasing in r
        for r, value in enumerate(values):
            assert Fraction(r * (widths[0] + widths[-1] - r), 2) <= value <= Fraction(d, 2)
            assert dln_coefficient(widths[::-1], r)[0] == value           # reversal symmetry


def test_single_layer_is_regular():
    assert dln_coefficient([7, 3], 3) == (Fraction(21, 2), 1)


def test_known_coefficient_of_targets():
    linear = ModelSpec(in_dim=5, widths=[5, 5], out_dim=5, activation="identity", bias=False)
    synthetic = DataSpec()
    assert known_coefficient(linear, TeacherSpec(kind="dln", rank=1), synthetic) == float(dln_coefficient([5, 5, 5, 5], 1)[0])
    assert known_coefficient(linear, TeacherSpec(kind="model"), synthetic) == 12.5
    # the teacher's rank says nothing of data it did not make
    assert known_coefficient(linear, TeacherSpec(kind="dln", rank=1), DataSpec(source="npz", path="x.npz")) is None
    regression = ModelSpec(in_dim=10, widths=[], depth=0, out_dim=1)
    assert known_coefficient(regression, TeacherSpec(), synthetic) == 5.5     # 10 weights + 1 bias
    assert known_coefficient(regression, TeacherSpec(), synthetic, design_rank=7) == 3.5   # degenerate inputs
    assert known_coefficient(ModelSpec(), TeacherSpec(), synthetic) is None     # a tanh MLP: unknown
    assert known_coefficient(ModelSpec(architecture="cnn", in_dim=64, widths=[]), TeacherSpec(), synthetic) is None


def test_multinomial_logistic_regression():
    """Softmax over K classes is unchanged by adding one vector to every class's weights: of the
    K (p + 1) parameters, (K - 1)(p + 1) count, and lambda is half of them."""
    logistic = ModelSpec(in_dim=5, widths=[], out_dim=4)
    categorical = DataSpec(noise_model="categorical")
    assert known_coefficient(logistic, TeacherSpec(), categorical) == 9.0           # (4 - 1)(5 + 1) / 2
    no_bias = ModelSpec(in_dim=5, widths=[], out_dim=4, bias=False)
    assert known_coefficient(no_bias, TeacherSpec(), categorical) == 7.5            # (4 - 1) 5 / 2
