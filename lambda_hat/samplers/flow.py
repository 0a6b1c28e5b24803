"""VI family ``flow``: a masked autoregressive flow (flowjax) around the start point.

``w = w0 + s0 * T(z)``, ``z ~ N(0, I)``, where ``T`` is ``layers`` masked affine autoregressive
layers (each an MLP of width ``width``) followed by a learned per-coordinate affine map, so the
layers work on standardized coordinates while the last map carries each direction's own scale.
The flow runs in its sampling direction (``invert=False``): a draw and its density come from one
pass. Unlike a Gaussian, it can bend along the curved valleys of a singular model's loss.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import paramax
from flowjax.bijections import Affine, Chain
from flowjax.distributions import StandardNormal, Transformed
from flowjax.flows import masked_autoregressive_flow

from lambda_hat.types import Array


def _trainable(flow) -> tuple[Any, Any]:
    """``(params, static)`` of a flowjax distribution, leaving its non-trainable parts static."""
    return eqx.partition(flow, eqx.is_inexact_array, is_leaf=lambda leaf: isinstance(leaf, paramax.NonTrainable))


class FlowFamily(NamedTuple):
    """A masked autoregressive flow on ``d`` coordinates; see ``vi.Family``."""

    d: int
    layers: int
    width: int
    samples: int

    @property
    def evals_per_step(self) -> int:
        return self.samples

    def make(self, key) -> Transformed:
        inner = masked_autoregressive_flow(key, base_dist=StandardNormal((self.d,)), flow_layers=self.layers,
                                           nn_width=self.width, invert=False)
        scale = Affine(jnp.zeros(self.d), jnp.ones(self.d))
        return Transformed(StandardNormal((self.d,)), Chain([inner.bijection, scale]))

    def init(self, key, d: int, dtype):
        """Fresh parameters; their precision is JAX's default, which the runner sets from the run's
        ``dtype`` (float64 enabled only for float64 runs)."""
        return _trainable(self.make(key))[0]

    def distribution(self, raw) -> Transformed:
        return eqx.combine(raw, _trainable(self.make(jax.random.key(0)))[1])

    def elbo(self, raw, s0, key, target) -> Array:
        draw_key, target_key = jax.random.split(key)
        units, log_q = self.distribution(raw).sample_and_log_prob(draw_key, (self.samples,))
        values = jax.vmap(target)(s0 * units, jax.random.split(target_key, self.samples))
        return jnp.mean(values - (log_q - self.d * jnp.log(s0)))

    def draw(self, raw, s0, key) -> tuple[Array, Array]:
        units, log_q = self.distribution(raw).sample_and_log_prob(key)
        return s0 * units, log_q - self.d * jnp.log(s0)


def default_width(d: int) -> int:
    """The MLP width when none is set: the dimension, at least 64, at most 512 (beyond that a
    layer's cost grows linearly in d, not quadratically)."""
    return int(min(512, max(64, d)))
