"""The project's exception types.

Every error a user can cause derives from `FeatpipeError`; its message is written for the user
(what was wrong, the value seen, what would be valid) and the CLI prints it without a traceback.
"""


class FeatpipeError(Exception):
    """Base class of user-facing errors; `exit_code` is what the CLI exits with."""

    exit_code = 1


class ConfigError(FeatpipeError):
    """A config file, key or override is invalid."""

    exit_code = 2


class DataError(FeatpipeError):
    """A data source is missing, corrupt, unsafe or not what was expected."""


class ModelError(FeatpipeError):
    """A saved model or run directory cannot be read or used."""


class InputError(FeatpipeError, ValueError):
    """Bad arguments or arrays given to an estimator.

    Also a ValueError, so scikit-learn's conventions (and its estimator checks) still hold.
    """


class TrainingError(FeatpipeError):
    """Training failed in a way the user can fix (e.g. a diverging learning rate)."""


class OutputError(FeatpipeError):
    """A result cannot be written: the output folder is read-only, full, or not ours to write."""
