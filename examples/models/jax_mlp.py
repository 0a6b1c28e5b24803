"""An MLP in plain JAX, as lambda-hat reads a model file:
model: { file: jax_mlp.py, name: mlp, args: { width: 32 } }."""
import jax
import jax.numpy as jnp


def mlp(in_dim, out_dim, width=32):
    def init(key):
        hidden, out = jax.random.split(key)
        return {"hidden": {"w": jax.random.normal(hidden, (in_dim, width)) / jnp.sqrt(in_dim), "b": jnp.zeros(width)},
                "out": {"w": jax.random.normal(out, (width, out_dim)) / jnp.sqrt(width), "b": jnp.zeros(out_dim)}}

    def apply(params, x):
        h = jnp.tanh(x @ params["hidden"]["w"] + params["hidden"]["b"])
        return h @ params["out"]["w"] + params["out"]["b"]

    return init, apply
