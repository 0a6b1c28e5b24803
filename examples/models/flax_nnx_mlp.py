"""The same MLP as a Flax NNX module: model: { file: flax_nnx_mlp.py, name: mlp }.
Its parameters are the module's state (nnx.split), applied by merging them back."""
import jax
from flax import nnx


class MLP(nnx.Module):
    def __init__(self, in_dim, out_dim, width, rngs):
        self.hidden = nnx.Linear(in_dim, width, rngs=rngs)
        self.out = nnx.Linear(width, out_dim, rngs=rngs)

    def __call__(self, x):
        return self.out(jax.nn.tanh(self.hidden(x)))


def mlp(in_dim, out_dim, width=32):
    graph, _ = nnx.split(MLP(in_dim, out_dim, width, nnx.Rngs(0)))

    def init(key):
        return nnx.split(MLP(in_dim, out_dim, width, nnx.Rngs(key)))[1]

    def apply(state, x):
        return nnx.merge(graph, state)(x)

    return init, apply
