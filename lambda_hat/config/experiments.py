"""Load ``experiments.yaml``: resolve presets + overrides, validate, and assign IDs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import jax

from lambda_hat import ids, model_file, models, store
from lambda_hat.checkpoints import load as load_checkpoint
from lambda_hat.config import presets
from lambda_hat.spec import PACKAGED, SECTIONS, DataSpec, ModelSpec
from lambda_hat.config.validate import build, shown, unknown_keys
from lambda_hat.data import check_shapes, is_labels, packaged, read_npz
from lambda_hat.ids import file_digest
from lambda_hat.errors import ConfigError, DataError
from lambda_hat.samplers import SAMPLERS
from lambda_hat.types import MAX_SEED

TOP_KEYS = ["store_root", "results", "jax_enable_x64", "targets", "samplers", "presets_dir", "retry_of"]
TARGET_KEYS = ["model", "data", "teacher", "training", "seed", "overrides", "checkpoints"]
DEFAULT_PRESET = {"teacher": "_null", "training": None}


@dataclass(frozen=True)
class TargetPlan:
    target_id: str
    labels: dict
    spec: dict
    entry: dict = dataclasses.field(default_factory=dict, compare=False)   # as written in the YAML


@dataclass(frozen=True)
class SamplerPlan:
    sampler_id: str
    name: str
    spec: dict
    entry: dict = dataclasses.field(default_factory=dict, compare=False)   # as written in the YAML


@dataclass(frozen=True)
class Experiments:
    path: Path
    store_root: Path
    results: Path
    x64: bool
    targets: list
    samplers: list
    text: str
    #: the run-level paths the sweep file itself sets (``store_root``, ``results``), not defaulted
    paths_given: tuple = ()
    #: for a retry file (``<stem>.retry.yaml``): the sweep file, beside it, whose failed jobs it holds
    retry_of: str | None = None


def deep_merge(base: dict, update: dict) -> dict:
    """``base`` updated by ``update``, recursing into nested mappings."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def merge_section(kind: str, base: dict, update: dict, path: str) -> dict:
    """``base`` (a preset) updated by ``update`` (the user's keys) for one target section.

    A model's hidden layers are given either as ``widths`` or as ``depth`` x ``width``: a user's
    ``depth`` or ``width`` replaces the preset's ``widths`` (rather than being ignored beside it),
    keeping the preset's layer count or its (equal) width where the user gave only one of the two.
    Giving both forms at once, or a depth alone on a preset of unequal widths, is refused.
    """
    if kind == "model" and {"depth", "width"} & set(update):
        if "widths" in update:
            raise ConfigError([f"{path}: give widths (every hidden layer) or depth and width, not both"])
        widths = base.get("widths")
        base = {key: value for key, value in base.items() if key != "widths"}
        if widths:
            if "width" not in update and len(set(widths)) > 1:
                raise ConfigError([f"{path}.depth: the preset's hidden widths {widths} differ; give width too, "
                                   "or widths for every layer"])
            base.update(depth=len(widths), width=widths[0])
    return deep_merge(base, update)


def section_mapping(kind: str, value, path: str, user_dir: Path | None) -> tuple[str, dict]:
    """``(label, mapping)`` of one target section given as a preset name or ``{preset: name, ...}``."""
    if value is None:
        value = DEFAULT_PRESET.get(kind)
        if value is None and kind != "training":
            raise ConfigError([f"{path}: missing (name a {kind} preset)"])
    if value is None:
        return "default", {}
    if isinstance(value, str):
        return value, presets.load(kind, value, path, user_dir)
    if isinstance(value, dict):
        inline = dict(value)
        name = inline.pop("preset", None)
        if name is None:
            return "custom", inline
        if not isinstance(name, str):
            raise ConfigError([f"{path}.preset: expected a preset name, got {shown(name)}"])
        return name, merge_section(kind, presets.load(kind, name, path, user_dir), inline, path)
    raise ConfigError([f"{path}: expected a preset name or a mapping, got {shown(value)}"])


def resolve_targets(entry, index: int, x64: bool, base_dir: Path, user_dir: Path | None) -> list[TargetPlan]:
    """Resolve one ``targets[i]`` entry into its spec and ID: one target, or one per checkpoint."""
    path = f"targets[{index}]"
    if not isinstance(entry, dict):
        raise ConfigError([f"{path}: expected a mapping like {{model: small, data: small, seed: 42}}"])
    problems = unknown_keys(entry, TARGET_KEYS, path)
    overrides = entry.get("overrides") or {}
    if not isinstance(overrides, dict):
        problems.append(f"{path}.overrides: expected a mapping of sections")
        overrides = {}
    problems += unknown_keys(overrides, list(SECTIONS), f"{path}.overrides")
    seed = entry.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        problems.append(f"{path}.seed: expected an integer from 0 to {MAX_SEED}, got {shown(seed)}")
    checkpoints = entry.get("checkpoints")
    if checkpoints is not None and (not isinstance(checkpoints, list) or not checkpoints
                                    or not all(isinstance(c, str) and c for c in checkpoints)):
        problems.append(f"{path}.checkpoints: expected a list of .npz files, got {shown(checkpoints)}")
    labels, sections = {}, {}
    for kind, cls in SECTIONS.items():
        try:
            labels[kind], mapping = section_mapping(kind, entry.get(kind), f"{path}.{kind}", user_dir)
        except ConfigError as err:
            problems += err.problems
            continue
        section_override = overrides.get(kind) or {}
        if not isinstance(section_override, dict):
            problems.append(f"{path}.overrides.{kind}: expected a mapping")
            continue
        where = {key: f"{path}.overrides.{kind}" for key in section_override}
        try:
            merged = merge_section(kind, mapping, section_override, f"{path}.overrides.{kind}")
        except ConfigError as err:
            problems += err.problems
            continue
        value, found = build(cls, merged, f"{path}.{kind}", where)
        problems += found
        sections[kind] = value
    if problems:
        raise ConfigError(problems)
    given = set(entry["model"]) if isinstance(entry.get("model"), dict) else set()
    sections, digests = check_target(sections, path, base_dir, given | set(overrides.get("model") or {}))
    labels = {k: labels[k] for k in ("model", "data", "teacher")}
    if sections["model"].file:
        labels["model"] = f"{Path(sections['model'].file).name}:{sections['model'].name}"
    if sections["data"].source == "npz":
        labels["data"] = Path(sections["data"].path).name
    spec = {kind: dataclasses.asdict(value) for kind, value in sections.items()}
    spec.update(seed=seed, x64=bool(x64))
    for kind, digest in digests.items():
        spec[kind]["sha256"] = digest
    if checkpoints is None:
        return [TargetPlan(ids.target_id(spec), labels, spec, entry)]
    return [TargetPlan(ids.target_id({**spec, "checkpoint": checkpoint}), {**labels, "checkpoint": checkpoint["name"]},
                       {**spec, "checkpoint": checkpoint}, entry)
            for checkpoint in check_checkpoints(checkpoints, sections["model"], path, base_dir)]


def user_file(value: str, base_dir: Path) -> Path:
    """A user's file named in a sweep file: absolute, or relative to the sweep file's folder."""
    return Path(value) if Path(value).is_absolute() else base_dir / value


def check_target(sections: dict, path: str, base_dir: Path, given: set) -> tuple[dict, dict]:
    """Cross-section checks, and what the target's files say: the data (its rows, widths and
    likelihood: integer labels are classification), the model file (it builds, with the right
    shapes). ``given``: the model keys the target itself sets (others are taken from the data).
    Returns the sections and the sha256 of each user file, by section."""
    model, data, teacher = sections["model"], sections["data"], sections["teacher"]
    problems, digests = [], {}
    if teacher.kind == "dln" and not model.file and teacher.rank > min(model.layer_widths()):
        problems.append(f"{path}.teacher.rank: {teacher.rank} is larger than the narrowest width "
                        f"{min(model.layer_widths())} of {model.layer_widths()}")
    try:
        loaded = None
        if data.source == "npz":
            if not data.path:
                raise DataError("required when data.source is npz")
            file = user_file(data.path, base_dir)
            loaded, data = read_npz(str(file)), dataclasses.replace(data, path=str(file.resolve()))
            digests["data"] = file_digest(str(file))
        elif data.source in PACKAGED:
            loaded = packaged(data.source)
        if loaded is not None:
            model, data = fit_to_data(model, data, *loaded, given)
    except DataError as err:
        problems.append(f"{path}.data{'.path' if data.source == 'npz' else ''}: {err}")
    if data.source == "synthetic" and data.noise_model == "categorical" and model.out_dim < 2:
        problems.append(f"{path}.model.out_dim: classification needs 2 classes or more, got {model.out_dim}")
    if model.file:
        changed = [f.name for f in dataclasses.fields(ModelSpec)
                   if f.name not in ModelSpec.FILE_KEYS and getattr(model, f.name) != getattr(ModelSpec(), f.name)]
        if changed:
            problems.append(f"{path}.model.{changed[0]}: has no effect on a model file's network (it takes "
                            f"{', '.join(ModelSpec.FILE_KEYS)})")
        file = user_file(model.file, base_dir)
        try:
            models.build(model, "float32", file)          # shapes only: the build runs in its own precision
            model, digests["model"] = dataclasses.replace(model, file=str(file.resolve())), file_digest(str(file))
        except model_file.ModelError as err:
            problems.append(f"{path}.model.file: {err}")
    problems += [f"{path}.model: {problem}" for problem in model.problems()]
    if problems:
        raise ConfigError(problems)
    return {**sections, "model": model, "data": data}, digests


def fit_to_data(model: ModelSpec, data: DataSpec, x, y, given: set) -> tuple[ModelSpec, DataSpec]:
    """The model's widths and the data's rows and likelihood, as the data ``(X, Y)`` have them: the
    widths the target gives must agree with the data; the others are taken from them."""
    classes = is_labels(y)
    if classes and data.noise_model not in ("gauss", "categorical"):
        raise DataError(f"Y holds integer labels (classification), but noise_model is {data.noise_model}")
    if not classes and data.noise_model == "categorical":
        raise DataError("noise_model categorical needs Y to hold integer labels [n]")
    found = {"in_dim": int(x.shape[1]), "out_dim": int(y.max()) + 1 if classes else int(y.shape[1])}
    if "in_dim" in given and model.in_dim != found["in_dim"]:
        raise DataError(f"X has {found['in_dim']} columns, but the model has in_dim {model.in_dim}")
    if "out_dim" in given:
        check_shapes(x, y, model, "Y")
        found["out_dim"] = model.out_dim
    return (dataclasses.replace(model, **found),
            dataclasses.replace(data, n=int(x.shape[0]), noise_model="categorical" if classes else data.noise_model))


def check_checkpoints(names: list, model: ModelSpec, path: str, base_dir: Path) -> list[dict]:
    """``{name, path, sha256}`` of each checkpoint, each read against the model's parameters."""
    template = models.build(model, "float32").init(jax.random.key(0))
    found, problems = [], []
    for index, name in enumerate(names):
        file = user_file(name, base_dir)
        try:
            load_checkpoint(file, template)
            found.append({"name": name, "path": str(file.resolve()), "sha256": file_digest(str(file))})
        except DataError as err:
            problems.append(f"{path}.checkpoints[{index}]: {err}")
    if problems:
        raise ConfigError(problems)
    return found


def resolve_sampler(entry, index: int, user_dir: Path | None) -> SamplerPlan:
    """Resolve one ``samplers[i]`` entry: a built-in algorithm or a user's sampler preset."""
    path = f"samplers[{index}]"
    if not isinstance(entry, dict) or "name" not in entry:
        raise ConfigError([f"{path}: expected a mapping with a name, like {{name: hmc}}"])
    problems = unknown_keys(entry, ["name", "overrides"], path)
    name = entry["name"]
    overrides = entry.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise ConfigError(problems + [f"{path}.overrides: expected a mapping of sampler keys"])
    # every algorithm has a built-in preset of its own name; a user's preset shadows it
    mapping = dict(presets.load("sampler", str(name), f"{path}.name", user_dir))
    algorithm = mapping.pop("algorithm", name)
    if algorithm not in SAMPLERS:
        raise ConfigError(problems + [f"{path}.name: preset '{name}' names unknown algorithm '{algorithm}' "
                                      f"(known: {', '.join(SAMPLERS)})"])
    where = {key: f"{path}.name ({name})" for key in mapping}
    settings, found = build(SAMPLERS[algorithm].Settings, {**mapping, **overrides}, f"{path}.overrides", where)
    if problems or found:
        raise ConfigError(problems + found)
    spec = {"algorithm": algorithm, "settings": dataclasses.asdict(settings)}
    return SamplerPlan(ids.sampler_id(spec), label(str(name), overrides), spec, entry)


def label(name: str, overrides: dict) -> str:
    """A readable sampler label: ``sgld`` or ``sgld[precond=rmsprop,step_size=1e-05]``."""
    if not overrides:
        return name
    return name + "[" + ",".join(f"{k}={v}" for k, v in sorted(overrides.items())) + "]"


def load(path: str | Path) -> Experiments:
    """Read and fully validate an experiments file; every problem is reported, then raised."""
    path = Path(path)
    raw = presets.read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError([f"{path}: expected a mapping with targets and samplers"])
    problems = unknown_keys(raw, TOP_KEYS, "")
    base_dir = path.parent
    user_dir = base_dir / raw.get("presets_dir", "presets")
    x64 = raw.get("jax_enable_x64", True)
    if not isinstance(x64, bool):
        problems.append(f"jax_enable_x64: expected true or false, got {shown(x64)}")
    targets, samplers = [], []
    for key, resolve, out in (("targets", lambda e, i: resolve_targets(e, i, x64, base_dir, user_dir), targets),
                              ("samplers", lambda e, i: [resolve_sampler(e, i, user_dir)], samplers)):
        entries = raw.get(key)
        if not isinstance(entries, list) or not entries:
            problems.append(f"{key}: expected a non-empty list")
            continue
        for index, entry in enumerate(entries):
            try:
                out.extend(resolve(entry, index))
            except ConfigError as err:
                problems += err.problems
    problems += batch_problems(raw, targets, samplers)
    for key in ("store_root", "results", "retry_of"):
        if key in raw and not isinstance(raw[key], str):
            problems.append(f"{key}: expected a path, got {shown(raw[key])}")
    if isinstance(raw.get("retry_of"), str) and not (base_dir / raw["retry_of"]).is_file():
        problems.append(f"retry_of: {base_dir / raw['retry_of']}: the sweep file this retries is not there")
    if problems:
        raise ConfigError(problems)
    return Experiments(path=path, store_root=Path(raw.get("store_root", store.STORE_ROOT)),
                       results=Path(raw.get("results", store.RESULTS)), x64=x64,
                       targets=unique(targets, "target_id"), samplers=unique(samplers, "sampler_id"),
                       text=path.read_text(), paths_given=tuple(k for k in ("store_root", "results") if k in raw),
                       retry_of=raw.get("retry_of"))


def batch_problems(raw: dict, targets: list, samplers: list) -> list[str]:
    """A minibatch the user asked for must fit every target's data (0 means full batch).

    A preset's default larger than n quietly becomes full batch; an explicit override is refused.
    """
    problems = []
    for sampler in samplers:
        index = raw["samplers"].index(sampler.entry)
        asked = (sampler.entry.get("overrides") or {}).get("batch_size")
        size = sampler.spec["settings"].get("batch_size", 0)
        if asked is None or size <= 0:
            continue
        for target in targets:
            if size > target.spec["data"]["n"]:
                problems.append(f"samplers[{index}].overrides.batch_size: {size} is larger than n = "
                                f"{target.spec['data']['n']} of targets[{raw['targets'].index(target.entry)}] "
                                "(use 0 for full batch)")
    return problems


def unique(items: list, attribute: str) -> list:
    """Items with distinct IDs, first occurrence kept (identical specs collapse to one ID)."""
    seen, kept = set(), []
    for item in items:
        if getattr(item, attribute) not in seen:
            seen.add(getattr(item, attribute))
            kept.append(item)
    return kept
