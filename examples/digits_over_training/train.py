"""Train an MLP classifier on scikit-learn's digits and save checkpoints along the way, for
lambda-hat to measure the LLC over training (sweep.yaml beside this file).

    python train.py            # checkpoints/step_*.npz, a few seconds on a CPU

The model is examples/models/jax_mlp.py (width 32), read the way lambda-hat reads it; the data is
the `digits` preset, the same rows the sweep's targets use.
"""
from pathlib import Path

import jax
import jax.numpy as jnp
import optax

from lambda_hat import checkpoints, model_file
from lambda_hat.data import packaged

HERE = Path(__file__).parent
STEPS = (0, 10, 30, 100, 300, 1000, 3000)

x, labels = packaged("digits")
init, apply = model_file.functions(HERE.parent / "models" / "jax_mlp.py", "mlp", x.shape[1], 10, {"width": 32})
params = init(jax.random.key(0))
optimizer = optax.adam(0.01)
state = optimizer.init(params)


def loss(params):
    """The mean negative log-likelihood of the labels: the loss lambda-hat's posterior uses."""
    logits = apply(params, x)
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=1))


@jax.jit
def step(params, state):
    value, grads = jax.value_and_grad(loss)(params)
    updates, state = optimizer.update(grads, state)
    return optax.apply_updates(params, updates), state, value


(HERE / "checkpoints").mkdir(exist_ok=True)
for number in range(max(STEPS) + 1):
    if number in STEPS:
        checkpoints.save(HERE / "checkpoints" / f"step_{number:04d}.npz", params)
        print(f"step {number:5d}: loss {float(loss(params)):.4f}")
    params, state, _ = step(params, state)
