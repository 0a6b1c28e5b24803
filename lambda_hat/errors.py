"""The one failure model: every error the tool tells a user about derives from :class:`LambdaHatError`.

The CLI catches these (and the operating system's own ``OSError``), prints their lines on stderr and
exits 1; anything else is a bug and keeps its traceback. A stage that fails (a build, a run) also
writes the error into its artifact folder as ``error.json`` (``store.write_error``), whichever front
end ran it, so the results table and the gallery show every failure the same way. Building blocks
never print: they raise, or log a warning through :mod:`logging` (the CLI shows it on stderr).
"""

from __future__ import annotations


class LambdaHatError(Exception):
    """An error with a message meant for the user."""

    def lines(self) -> list[str]:
        """The message, one problem per line."""
        return str(self).splitlines() or [type(self).__name__]


class ConfigError(LambdaHatError):
    """One or more problems in a user's configuration; ``problems`` holds one line each."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

    def lines(self) -> list[str]:
        return self.problems


class DataError(LambdaHatError):
    """A data file that cannot be used: missing, malformed or of the wrong shape."""


class StoreError(LambdaHatError):
    """An artifact that cannot be read or written (corrupt file, read-only store, full disk)."""


class TrainingDiverged(LambdaHatError):
    """Training the student w* reached a NaN or infinite loss."""


class SamplerFailure(LambdaHatError):
    """A run that produced no usable estimate (NaN/inf draws, a storm of divergences)."""


class DeviceError(LambdaHatError):
    """The accelerator that ``JAX_PLATFORMS`` asks for is not there."""


class InputError(LambdaHatError, ValueError):
    """An argument outside what a function accepts (e.g. a rank above a network's narrowest width)."""
