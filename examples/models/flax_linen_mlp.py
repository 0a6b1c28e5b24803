"""The same MLP as a Flax linen module: model: { file: flax_linen_mlp.py, name: mlp }."""
import flax.linen as nn
import jax.numpy as jnp


class MLP(nn.Module):
    width: int
    out_dim: int

    @nn.compact
    def __call__(self, x):
        return nn.Dense(self.out_dim)(nn.tanh(nn.Dense(self.width)(x)))


def mlp(in_dim, out_dim, width=32):
    module = MLP(width, out_dim)
    return (lambda key: module.init(key, jnp.zeros((1, in_dim)))), module.apply
