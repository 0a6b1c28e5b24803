"""The largest curvature by power iteration: on a Gaussian it is 1 / (narrowest scale)^2."""

from __future__ import annotations

import jax.numpy as jnp
import pytest

from lambda_hat.samplers.curvature import max_curvature
from tests.samplers.gaussian import gaussian_problem


def test_the_stiffest_direction_of_a_gaussian():
    problem = gaussian_problem([0.1, 1.0, 0.3], jnp.float32)
    assert float(max_curvature(problem.logdensity, problem.position)) == pytest.approx(100.0, rel=1e-3)
    # rescaled by S = diag(scales), every direction has curvature 1
    scaled = max_curvature(problem.logdensity, problem.position, jnp.asarray([0.1, 1.0, 0.3]))
    assert float(scaled) == pytest.approx(1.0, rel=1e-3)
