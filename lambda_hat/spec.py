"""Typed schema of a target: model, data, teacher and training sections.

Every default lives here, once. Presets (YAML) only say what differs from these.
"""

from __future__ import annotations

from dataclasses import dataclass

from lambda_hat.types import field_

ACTIVATIONS = ("relu", "tanh", "gelu", "identity")


@dataclass(frozen=True)
class ModelSpec:
    """Student network: an MLP, or a deep linear network with ``activation: identity, bias: false``."""

    in_dim: int = field_(4, minimum=1, doc="input dimension")
    out_dim: int = field_(1, minimum=1, doc="output dimension")
    depth: int = field_(1, minimum=0, doc="hidden layers, all of `width` (when widths is not given)")
    width: int = field_(8, minimum=1, doc="hidden width (when widths is not given)")
    widths: list | None = field_(None, doc="every hidden width, e.g. [16, 16]; [] for no hidden layer; "
                                           "a depth or width override replaces a preset's widths")
    activation: str = field_("tanh", choices=ACTIVATIONS, doc="hidden activation")
    bias: bool = field_(True, doc="biases in every layer")
    skip: bool = field_(False, doc="residual skip connections between equal-width hidden layers")
    init_scale: float = field_(1.0, minimum=0.0, exclusive=True, doc="scale of the LeCun-normal init")

    def hidden(self) -> list[int]:
        """Hidden widths, from ``widths`` or ``depth`` x ``width``."""
        return list(self.widths) if self.widths is not None else [self.width] * self.depth

    def layer_widths(self) -> list[int]:
        """All widths, input and output included."""
        return [self.in_dim, *self.hidden(), self.out_dim]


@dataclass(frozen=True)
class DataSpec:
    """Inputs, noise model and sample size; or a user's own ``.npz`` file with X and Y."""

    n: int = field_(1000, minimum=1, doc="training samples")
    source: str = field_("synthetic", choices=("synthetic", "npz"), doc="where X, Y come from")
    path: str = field_("", doc="the .npz file (X: [n, in_dim], Y: [n, out_dim]) when source is npz")
    x_dist: str = field_("gauss_iso", choices=("gauss_iso", "gauss_aniso", "mixture", "heavy_tail", "uniform"),
                         doc="input distribution")
    x_scale: float = field_(1.0, minimum=0.0, exclusive=True, doc="input scale")
    mixture_components: int = field_(3, minimum=1, doc="components when x_dist is mixture")
    x_df: float = field_(3.0, minimum=0.0, exclusive=True, doc="Student-t degrees of freedom when x_dist is heavy_tail")
    noise_model: str = field_("gauss", choices=("gauss", "student_t", "laplace"), doc="observation noise and likelihood")
    noise_scale: float = field_(0.5, minimum=0.0, exclusive=True, doc="noise scale sigma")
    noise_df: float = field_(4.0, minimum=0.0, exclusive=True, doc="Student-t degrees of freedom of the noise")


@dataclass(frozen=True)
class TeacherSpec:
    """Network that makes the labels. ``model``: the student's own architecture, randomly drawn."""

    kind: str = field_("model", choices=("model", "mlp", "dln"), doc="model | mlp | dln")
    widths: list = field_([], doc="hidden widths of an mlp teacher")
    activation: str = field_("tanh", choices=ACTIVATIONS, doc="activation of an mlp teacher")
    bias: bool = field_(True, doc="biases of an mlp teacher")
    rank: int = field_(-1, minimum=-1, doc="dln: end-to-end product rank (-1 = generic, min width)")
    weight_scale: float = field_(1.0, minimum=0.0, exclusive=True, doc="scale of the teacher's weights")


@dataclass(frozen=True)
class TrainingSpec:
    """How the student w* is found (optax)."""

    optimizer: str = field_("adam", choices=("adam", "sgd"), doc="optax optimizer")
    lr: float = field_(0.01, minimum=0.0, exclusive=True, doc="learning rate")
    steps: int = field_(3000, minimum=1, doc="maximum training steps")
    batch_size: int = field_(0, minimum=0, doc="0 = full batch")
    early_stop: float = field_(0.0, minimum=0.0, doc="stop when the full loss improves less than this over patience steps")
    patience: int = field_(200, minimum=1, doc="steps between early-stop checks")
    lr_decay: bool = field_(True, doc="cosine decay of the learning rate to 1% of lr")


SECTIONS = {"model": ModelSpec, "data": DataSpec, "teacher": TeacherSpec, "training": TrainingSpec}


def sections(spec: dict) -> dict:
    """Typed sections of a resolved target spec (``sha256`` of a data file is identity only)."""
    return {kind: cls(**{k: v for k, v in spec[kind].items() if k != "sha256"})
            for kind, cls in SECTIONS.items()}
