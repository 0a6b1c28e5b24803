"""The ``lambda-hat`` command line: parse options, call the library, print results on stdout.

Progress and logs go to stderr. Domain errors print one line on stderr and exit with code 1.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Optional

import typer

from lambda_hat import DEFAULT_BATCH, store

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_show_locals=False,
                  help="Estimate local learning coefficients for sweeps of targets x samplers.")
workflow_app = typer.Typer(no_args_is_help=True, help="Run whole sweeps.")
app.add_typer(workflow_app, name="workflow")


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def domain_errors(command):
    """Turn the tool's own errors (``errors.LambdaHatError``) into their lines on stderr and exit
    code 1; so too the operating system's (a folder that cannot be written). Anything else is a bug
    and keeps its traceback. Warnings that building blocks log go to stderr as ``warning: ...``.

    The accelerator check comes first, before any import that starts JAX (blackjax does at import).
    """

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from lambda_hat import progress, runtime
        from lambda_hat.errors import LambdaHatError

        progress.show_warnings()
        try:
            runtime.check_platforms()
            return command(*args, **kwargs)
        except LambdaHatError as err:
            for line in err.lines():
                typer.echo(f"error: {line}", err=True)
            raise typer.Exit(1) from None
        except OSError as err:
            fail(f"{err.filename}: {err.strerror}" if err.filename else str(err))

    return wrapper


def read_plan_file(path: Path, kind: str) -> dict:
    """A plan JSON file (``plan/targets/tgt_*.json`` or ``plan/samplers/smp_*.json``)."""
    from lambda_hat.store import read_json

    if not path.is_file():
        fail(f"{path}: {kind} spec file not found")
    document = read_json(path)
    if "spec" not in document:
        fail(f"{path}: not a {kind} spec written by `lambda-hat plan`")
    return document


@app.command()
@domain_errors
def plan(config: Path = typer.Option(store.CONFIG, help="sweep file"),
         out: Path = typer.Option(store.PLAN_DIR, help="folder for the plan files"),
         inputs: Optional[Path] = typer.Option(None, help="also write a CSV (target_id,path) of the user data files "
                                                          "the targets read, for a workflow engine to stage"),
         runs_per_task: int = typer.Option(DEFAULT_BATCH, min=1, help="sampler runs per task (tasks/ folders)")) -> None:
    """Resolve and validate a sweep; write one spec file per target and per sampler, and the
    sampler specs of each task (a target's runs that one process draws, batched where it can)."""
    from lambda_hat import config as configuration
    from lambda_hat.config.plan import data_inputs, describe, write

    experiments = configuration.load(config)
    typer.echo(describe(write(experiments, out, runs_per_task)))
    if inputs is not None:
        data_inputs(experiments, inputs)


@app.command()
@domain_errors
def build(spec: Path = typer.Option(..., help="plan/targets/tgt_*.json"),
          store: Path = typer.Option(store.STORE_ROOT, help="artifact store"),
          force: bool = typer.Option(False, help="rebuild a finished target"),
          data_file: Optional[Path] = typer.Option(None, help="read the target's data file from here instead of its "
                                                              "planned path (its checksum must match the plan)"),
          model_file: Optional[Path] = typer.Option(None, help="the same for the target's model file"),
          checkpoint: Optional[Path] = typer.Option(None, help="the same for the target's checkpoint"),
          lock: bool = typer.Option(True, help="lock the target folder (--no-lock where only this process writes)")) -> None:
    """Stage A: make the data and teacher, train w* (or read it from a checkpoint), write
    <store>/targets/<target_id>/."""
    from lambda_hat import runtime, targets
    from lambda_hat.progress import log

    document = read_plan_file(spec, "target")
    runtime.configure()
    folder, built = targets.build(document, store, force=force, data_file=data_file, lock=lock,
                                  model_file_path=model_file, checkpoint=checkpoint)
    log(f"{'built' if built else 'exists'}: {folder}")
    typer.echo(str(folder))


@app.command()
@domain_errors
def sample(target: Path = typer.Option(..., help="target folder <store>/targets/<target_id>"),
           spec: list[Path] = typer.Option(..., help="plan/samplers/smp_*.json (repeat for several runs)"),
           force: bool = typer.Option(False, help="rerun a finished run"),
           out: Optional[Path] = typer.Option(None, help="write run_<run_id>/ here instead of in the target folder"),
           lock: bool = typer.Option(True, help="lock the run folders (--no-lock where only this process writes)"),
           batch: int = typer.Option(0, min=0, help="runs per compiled batch (0: every run of one program)"),
           keep_going: bool = typer.Option(False, help="exit 0 when runs fail (their error.json records why)")) -> None:
    """Stage B: run samplers on one target; write one run_<run_id>/ each (analysis.json, trace.npz).

    Runs that differ only in numeric settings (step sizes, gamma, beta0, seeds...) are drawn
    together by one compiled program. A run that fails writes error.json and fails alone.
    """
    from lambda_hat import progress, runtime, sampling
    from lambda_hat.store import read_json

    documents = [read_plan_file(path, "sampler") for path in spec]
    if not (target / "meta.json").is_file():
        fail(f"{target}: not a finished target folder (no meta.json); run `lambda-hat build` first")
    runtime.configure()
    with progress.bars() as start:
        results = sampling.sample_all(target, documents, force=force, out=out, lock=lock, batch=batch,
                                      progress=lambda plans: start(progress.batch_label(plans)))
    for result in results:
        name = result.plan.get("name")
        if result.error is not None:
            progress.log(f"failed: {name}: {type(result.error).__name__}: {result.error} "
                         f"(details in {result.folder / 'error.json'})")
            continue
        warnings = read_json(result.folder / "analysis.json").get("warnings")
        progress.log(f"{'sampled' if result.ran else 'exists'}: {result.folder}" +
                     (f" (suspect: {warnings})" if warnings else ""))
        typer.echo(str(result.folder))
    failed = [r for r in results if r.error is not None]
    if failed and not keep_going:
        fail(f"{len(failed)} of {len(results)} runs failed: " + ", ".join(r.plan.get("name", "?") for r in failed))


@app.command()
@domain_errors
def collect(runs: Optional[list[Path]] = typer.Argument(None, help="run folders (default: all in the store)"),
            store: Path = typer.Option(store.STORE_ROOT, help="artifact store"),
            out: Path = typer.Option(store.RESULTS, help="parquet to write"),
            plan: Optional[Path] = typer.Option(None, help="plan.json of a sweep: one row per planned job, failed ones included"),
            built: Optional[str] = typer.Option(None, help="with --plan: comma-separated IDs of the targets that were built "
                                                           "(default: those finished in the store)"),
            missing: Optional[str] = typer.Option(None, help="with --plan: the reason recorded for a job of a built "
                                                             "target that left no run folder"),
            counts: Optional[Path] = typer.Option(None, help="also write the rows' counts by status here (JSON)")) -> None:
    """Aggregate runs into one parquet table (a sweep's jobs with --plan, else every run found)."""
    from lambda_hat.collect import NO_RECORD, collect as collect_runs, status_counts
    from lambda_hat.store import read_json, write_json

    document = read_json(plan) if plan is not None else None
    targets = None if built is None else {t for t in built.split(",") if t}
    table = collect_runs(store, out, runs, document, targets, missing or NO_RECORD)
    if counts is not None:
        write_json(counts, status_counts(table))
    counts = table["status"].value_counts()
    noted = ", ".join(f"{counts[s]} {s}" for s in ("suspect", "failed") if counts.get(s))
    typer.echo(f"{len(table)} rows -> {out}" + (f" ({noted})" if noted else ""))
    for row in table[table["status"] != "ok"].itertuples():
        typer.echo(f"{row.status}: {row.target_id} × {row.sampler}: {row.error if row.status == 'failed' else row.warnings}")


@app.command()
@domain_errors
def diagnose(runs: Optional[list[Path]] = typer.Argument(None, help="run_<id> folders"),
             target: Optional[Path] = typer.Option(None, help="a target folder: training curve and predictions")) -> None:
    """Stage C: diagnostic plots into each run's (or the target's) diagnostics/ folder."""
    from lambda_hat import runtime
    from lambda_hat.report.plots import diagnose_run, diagnose_target

    if not runs and target is None:
        fail("name run folders, or --target DIR")
    if target is not None:
        if not (target / "meta.json").is_file():
            fail(f"{target}: not a finished target folder (no meta.json)")
        runtime.configure()
        files, message = diagnose_target(target)
        for name in files:
            typer.echo(str(target / "diagnostics" / name))
        if message:
            typer.echo(f"note: {message}", err=True)
    for run in runs or []:
        for name in diagnose_run(run)["files"]:
            typer.echo(str(run / "diagnostics" / name))


@app.command()
@domain_errors
def promote(runs: Optional[list[Path]] = typer.Argument(None, help="run folders (default: all in the store)"),
            store: Path = typer.Option(store.STORE_ROOT, help="artifact store"),
            results: Path = typer.Option(store.RESULTS, help="the sweep's parquet"),
            out: Path = typer.Option(store.gallery_dir(store.RESULTS), help="gallery folder")) -> None:
    """Stage D: a static gallery (index.html, summary.md, plots) of the sweep."""
    from lambda_hat.report.gallery import promote as write_gallery

    counts = write_gallery(store, results, out, runs)
    typer.echo(f"{out / 'index.html'}: {counts['runs']} runs, {counts['failed']} failed")


@app.command()
@domain_errors
def presets(kind: Optional[str] = typer.Argument(None, help="model | data | teacher | training | sampler"),
            config_dir: Path = typer.Option(store.CONFIG.parent, help="folder whose presets/ adds user presets")) -> None:
    """List presets and the keys each section accepts."""
    from lambda_hat.config import presets as preset_files
    from lambda_hat.spec import SECTIONS
    from lambda_hat.config.validate import describe
    from lambda_hat.samplers import SAMPLERS

    kinds = [kind] if kind else list(preset_files.KINDS)
    for name in kinds:
        if name not in preset_files.KINDS:
            fail(f"unknown preset kind '{name}' (known: {', '.join(preset_files.KINDS)})")
        user = config_dir / "presets"
        typer.echo(f"{name} presets: {', '.join(preset_files.names(name, user)) or '(none built in: the defaults below)'}")
        classes = {a: m.Settings for a, m in SAMPLERS.items()} if name == "sampler" else {name: SECTIONS[name]}
        for label, cls in classes.items():
            typer.echo(f"  keys of {label}:")
            for key, kind_name, default, doc in describe(cls):
                typer.echo(f"    {key:<24} {kind_name:<6} {json.dumps(default):<12} {doc}")
        if name == "sampler":
            typer.echo("  [batch]: runs on one target that differ only in these settings are drawn "
                       "by one compiled program (docs/sweeps.md)")


@app.command()
@domain_errors
def truth(widths: str = typer.Option(..., help="comma-separated widths, input first: 10,10,10"),
          rank: int = typer.Option(..., help="rank of the end-to-end product")) -> None:
    """Print the learning coefficient of a deep linear network (Aoyagi 2024)."""
    from lambda_hat.truth import dln_coefficient

    try:
        sizes = [int(w) for w in widths.split(",")]
    except ValueError:
        fail(f"--widths must be integers separated by commas, got {widths!r}")
    value, multiplicity = dln_coefficient(sizes, rank)
    typer.echo(f"lambda = {value} ({float(value):g}), multiplicity = {multiplicity}")


@app.command()
@domain_errors
def versions(expect: Optional[str] = typer.Option(None, help="fail unless the running code version is this "
                                                             "(<version>+<digest>, as the pipeline prints it)"),
             process: Optional[str] = typer.Option(None, help="nest the versions under this name (a Nextflow "
                                                              "process, as nf-core's versions.yml does)")) -> None:
    """Print the versions of Python, lambda-hat (with its code digest) and its numeric stack, as YAML."""
    import yaml

    from lambda_hat import provenance

    if expect is not None:
        provenance.check(expect)
    found = provenance.versions()
    typer.echo(yaml.safe_dump({process: found} if process else found, sort_keys=False).rstrip())


@workflow_app.command("llc")
@domain_errors
def workflow_llc(local: bool = typer.Option(False, "--local", help="run on this machine (required)"),
                 config: Path = typer.Option(store.CONFIG, help="sweep file"),
                 jobs: int = typer.Option(1, min=1, help="parallel worker processes"),
                 force: bool = typer.Option(False, help="redo finished targets and runs"),
                 promote: bool = typer.Option(False, help="also write plots and the gallery (results/gallery)"),
                 plan_dir: Path = typer.Option(store.PLAN_DIR, help="folder for the plan files"),
                 batch: int = typer.Option(DEFAULT_BATCH, min=1, help="a target's runs that differ only in numeric settings "
                                                           "(seeds, step sizes...) are drawn together, this many at most")) -> None:
    """Plan, build, sample and collect a whole sweep (resumable; failures isolated)."""
    from lambda_hat import workflow

    if not local:
        fail("only --local is built in; on a cluster run `nextflow run main.nf -profile slurm_a100`")
    summary = workflow.run_local(config, jobs=jobs, force=force, promote=promote, plan_dir=plan_dir, batch=batch)
    typer.echo(summary.table())
    if summary.failed:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
