"""The same MLP as an Equinox module: model: { file: equinox_mlp.py, name: mlp }.
Its parameters are the module's arrays (eqx.partition); the rest is fixed when the file is read."""
import equinox as eqx
import jax


def mlp(in_dim, out_dim, width=32):
    def module(key):
        return eqx.nn.MLP(in_dim, out_dim, width, depth=1, activation=jax.nn.tanh, key=key)

    _, static = eqx.partition(module(jax.random.key(0)), eqx.is_array)

    def init(key):
        return eqx.partition(module(key), eqx.is_array)[0]

    def apply(params, x):
        return jax.vmap(eqx.combine(params, static))(x)

    return init, apply
