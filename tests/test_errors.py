"""One failure model: every error meant for a user derives from one base, which is all the CLI
turns into ``error:`` lines; any other exception is a bug and keeps its traceback."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from lambda_hat import errors
from lambda_hat.cli import domain_errors

DOMAIN = [errors.ConfigError, errors.DataError, errors.StoreError, errors.TrainingDiverged,
          errors.SamplerFailure, errors.DeviceError, errors.InputError]


def test_every_domain_error_has_the_one_base():
    assert all(issubclass(cls, errors.LambdaHatError) for cls in DOMAIN)
    assert errors.ConfigError(["a: bad", "b: worse"]).lines() == ["a: bad", "b: worse"]


def command(error: Exception):
    app = typer.Typer()

    @app.command()
    @domain_errors
    def go() -> None:
        raise error

    return app


@pytest.mark.parametrize("error", [errors.ConfigError(["x: unknown key", "y: expected a number"]),
                                   errors.SamplerFailure("3 of 40 draws are NaN or inf")])
def test_the_cli_prints_a_domain_error_as_its_lines(error):
    result = CliRunner().invoke(command(error), [])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"error: {line}" for line in error.lines()]


def test_any_other_exception_is_a_bug_with_its_traceback():
    result = CliRunner().invoke(command(KeyError("oops")), [])
    assert result.exit_code == 1 and isinstance(result.exception, KeyError)
