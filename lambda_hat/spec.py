"""Typed schema of a target: model, data, teacher and training sections.

Every default lives here, once. Presets (YAML) only say what differs from these.
"""

from __future__ import annotations

from dataclasses import dataclass

from lambda_hat.types import field_

ACTIVATIONS = ("relu", "tanh", "gelu", "identity")


@dataclass(frozen=True)
class ModelSpec:
    """Student network: an MLP (a deep linear network with ``activation: identity, bias: false``),
    a small CNN (``architecture: cnn``), or a function in a user's model file (``file``, ``name``,
    ``args``: see ``model_file``). ``in_dim`` and ``out_dim`` are taken from a data file or a
    packaged data set where the target does not give them."""

    in_dim: int = field_(4, minimum=1, doc="input dimension (images: height x width x channels, flattened)")
    out_dim: int = field_(1, minimum=1, doc="output dimension (classification: the number of classes)")
    architecture: str = field_("mlp", choices=("mlp", "cnn"), doc="mlp, or cnn: convolutions (channels, kernel) "
                               "before the dense layers (widths)")
    depth: int = field_(1, minimum=0, doc="hidden layers, all of `width` (when widths is not given)")
    width: int = field_(8, minimum=1, doc="hidden width (when widths is not given)")
    widths: list | None = field_(None, doc="every hidden width, e.g. [16, 16]; [] for no hidden layer; "
                                           "a depth or width override replaces a preset's widths")
    activation: str = field_("tanh", choices=ACTIVATIONS, doc="hidden activation")
    bias: bool = field_(True, doc="biases in every layer")
    skip: bool = field_(False, doc="residual skip connections between equal-width hidden layers")
    init_scale: float = field_(1.0, minimum=0.0, exclusive=True, doc="scale of the LeCun-normal init")
    channels: list = field_([8, 16], doc="cnn: output channels of each convolution (each followed by 2x2 pooling)")
    kernel: int = field_(3, minimum=1, doc="cnn: convolution kernel size")
    image: list = field_([], doc="cnn: input image [height, width, channels] ([] = square, one channel, from in_dim)")
    file: str = field_("", doc="a Python file defining the model (relative to the sweep file); with name and args")
    name: str = field_("", doc="the function in file: name(in_dim, out_dim, **args) -> (init, apply)")
    args: dict = field_({}, doc="keyword arguments of the function in file")

    #: the keys a model file's network takes from its spec (the others shape built-in networks only)
    FILE_KEYS = ("in_dim", "out_dim", "file", "name", "args")

    def problems(self) -> list[str]:
        """A model file needs its function's name; a CNN's image must hold in_dim values."""
        found = []
        if self.file and not self.name:
            found.append("file: name the function that builds the model (name: FUNC)")
        if self.name and not self.file:
            found.append("name: given without a model file (file: models.py)")
        if self.architecture == "cnn" and not self.file:
            height, width, channels = self.image or (0, 0, 1)
            if self.image and (len(self.image) != 3 or height * width * channels != self.in_dim):
                found.append(f"image: {self.image} must be [height, width, channels] with height x width x channels = "
                             f"in_dim {self.in_dim}")
            elif not self.image and int(self.in_dim ** 0.5) ** 2 != self.in_dim:
                found.append(f"image: in_dim {self.in_dim} is not a square: give image: [height, width, channels]")
        return found

    @property
    def is_mlp(self) -> bool:
        """A built-in MLP (or deep linear network): neither a model file nor a CNN."""
        return not self.file and self.architecture == "mlp"

    def hidden(self) -> list[int]:
        """Hidden widths, from ``widths`` or ``depth`` x ``width``."""
        return list(self.widths) if self.widths is not None else [self.width] * self.depth

    def layer_widths(self) -> list[int]:
        """All widths, input and output included."""
        return [self.in_dim, *self.hidden(), self.out_dim]


#: data sets shipped inside a package (scikit-learn's), nothing downloaded; all classification
PACKAGED = ("digits", "iris", "wine", "breast_cancer")


@dataclass(frozen=True)
class DataSpec:
    """Inputs, noise model and sample size; or a user's own ``.npz`` file with X and Y; or a data set
    a package ships. A data set whose Y is a 1-D vector of integer labels is classification: its
    likelihood is categorical (``noise_model: categorical``), over ``out_dim`` classes."""

    n: int = field_(1000, minimum=1, doc="training samples (a file or packaged data set: all of its rows)")
    source: str = field_("synthetic", choices=("synthetic", "npz", *PACKAGED),
                         doc="where X, Y come from: synthetic (a teacher), npz (a file of yours), or a packaged data set")
    path: str = field_("", doc="the .npz file (X: [n, in_dim], Y: [n, out_dim], or Y: [n] integer labels) when "
                              "source is npz")
    x_dist: str = field_("gauss_iso", choices=("gauss_iso", "gauss_aniso", "mixture", "heavy_tail", "uniform"),
                         doc="input distribution")
    x_scale: float = field_(1.0, minimum=0.0, exclusive=True, doc="input scale")
    mixture_components: int = field_(3, minimum=1, doc="components when x_dist is mixture")
    x_df: float = field_(3.0, minimum=0.0, exclusive=True, doc="Student-t degrees of freedom when x_dist is heavy_tail")
    noise_model: str = field_("gauss", choices=("gauss", "student_t", "laplace", "categorical"),
                              doc="observation noise and likelihood; categorical: labels drawn from the softmax of "
                                  "the teacher's outputs (classification)")
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


def typed(kind: str, section: dict):
    """One resolved spec section as its dataclass (the ``sha256`` of a user's file is identity only)."""
    return SECTIONS[kind](**{k: v for k, v in section.items() if k != "sha256"})


def sections(spec: dict) -> dict:
    """Typed sections of a resolved target spec."""
    return {kind: typed(kind, spec[kind]) for kind in SECTIONS}
