"""Every `lambda-hat` command line in modules/ and bin/ is accepted by the real CLI.

The process scripts and the typer app cannot drift apart: each script line is parsed by the
click command behind `lambda-hat` (same subcommand, same options, required ones present).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from lambda_hat.cli import app

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = re.compile(r'script:.*?"""(.*?)"""', re.S)


def script_lines() -> list[tuple[str, str]]:
    """``(module, command)`` for every `lambda-hat` command of every module's script (with its
    continuation lines joined)."""
    lines = []
    for module in sorted(ROOT.glob("modules/local/*/main.nf")):
        block = SCRIPT.search(module.read_text()).group(1).replace("\\\\\n", " ")
        for line in block.splitlines():
            if "lambda-hat" in line:
                lines.append((str(module.relative_to(ROOT)), " ".join(line.split())))
    return lines


def placeholders(line: str) -> list[str]:
    """The script line with Nextflow interpolations replaced by sample values, output redirection dropped."""
    line = line.replace("${args}", "").split(" > ")[0]
    line = re.sub(r"\$\{task\.cpus\}", "2", line)
    line = line.replace("${platform}", "--platform cuda")
    line = line.replace("${files}", "--data-file data.npz --model-file model.py --checkpoint step_10.npz")
    line = line.replace("${runs}", "run_aaaaaaaaaaaa run_bbbbbbbbbbbb").replace("${runs_per_task}", "16")
    line = line.replace("${spec_args}", "--spec a.json --spec b.json")
    line = re.sub(r"\$\{[^}]+\}", "value", line)
    return shlex.split(line)


def wrapper_options(argv: list[str]) -> tuple[dict, list[str]]:
    """``(options of bin/lambda-hat-task, the lambda-hat arguments after them)``."""
    assert argv[0] == "lambda-hat-task", "scripts go through bin/lambda-hat-task"
    options, rest = {}, argv[1:]
    while rest and rest[0] in ("--cpus", "--platform", "--code", "--process", "--record-failure", "--runs"):
        options[rest[0]], rest = rest[1], rest[2:]
    return options, rest


def parse(argv: list[str]):
    """Parse ``lambda-hat ARGS`` with the real (click) commands behind typer, without running them."""
    assert argv[0] == "lambda-hat"
    command = typer.main.get_command(app)
    context = command.make_context("lambda-hat", [], resilient_parsing=True)
    args, name = argv[1:], "lambda-hat"
    while hasattr(command, "get_command"):          # a group: descend into the subcommand
        name, args = args[0], args[1:]
        command = command.get_command(context, name)
        assert command is not None, f"no subcommand {name!r}"
    return command.make_context(name, list(args))


def test_every_module_calls_the_cli():
    modules = {Path(path).parent.name for path, _ in script_lines()}
    assert modules == {p.parent.name for p in ROOT.glob("modules/local/*/main.nf")}


@pytest.mark.parametrize("path, line", script_lines(), ids=[p for p, _ in script_lines()])
def test_module_command_lines_parse(path, line):
    options, args = wrapper_options(placeholders(line))
    assert options["--cpus"] == "2"
    assert options["--code"] and options["--process"], "every task checks the code it runs and records its versions"
    parse(["lambda-hat", *args])


def test_task_wrapper_execs_the_cli():
    wrapper = (ROOT / "bin" / "lambda-hat-task").read_text()
    assert 'exec lambda-hat "$@"' in wrapper


def test_a_drifted_option_is_caught():
    with pytest.raises(Exception, match="No such option"):
        parse(["lambda-hat", "sample", "--target", "t", "--spec", "s", "--output", "."])
    with pytest.raises(Exception, match="Missing parameter: spec"):
        parse(["lambda-hat", "build", "--store", "s"])
