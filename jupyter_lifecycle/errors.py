"""One error hierarchy for the whole project.

Every error knows the HTTP status and MLflow-style error code it maps to, so
the REST API, the scoring server and the CLI report it the same way.
"""

from __future__ import annotations

from typing import Any


class LifecycleError(Exception):
    """Base class of every error jupyter-lifecycle raises on purpose."""

    http_status = 500
    error_code = "INTERNAL_ERROR"

    def to_dict(self) -> dict[str, Any]:
        """The JSON body MLflow's REST API uses for errors."""
        return {"error_code": self.error_code, "message": str(self)}


class InvalidInput(LifecycleError):
    """A value given by the user breaks a rule; the message names both."""

    http_status = 400
    error_code = "INVALID_PARAMETER_VALUE"


class NotFound(LifecycleError):
    """An experiment, run, model or file that does not exist."""

    http_status = 404
    error_code = "RESOURCE_DOES_NOT_EXIST"


class AlreadyExists(LifecycleError):
    """Creating something whose unique name is taken."""

    http_status = 400
    error_code = "RESOURCE_ALREADY_EXISTS"


class Conflict(LifecycleError):
    """The change would overwrite something that exists (a user's file...); nothing was changed."""

    http_status = 409
    error_code = "RESOURCE_ALREADY_EXISTS"


class InvalidState(LifecycleError):
    """The call is valid but not now (no active run, a run already active...)."""

    http_status = 400
    error_code = "INVALID_STATE"


class SchemaMismatch(InvalidInput):
    """Model input that does not match the model's signature."""

    error_code = "BAD_REQUEST"


class StoreError(LifecycleError):
    """The store cannot be used as it is (newer schema, unreadable file...)."""

    error_code = "INTERNAL_ERROR"



class RemoteError(LifecycleError):
    """An MLflow tracking server refused a sync request or could not be reached."""

    http_status = 502
    error_code = "TEMPORARILY_UNAVAILABLE"


def shown(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for naming a value in a message.

    Never raises: Python refuses to print integers over 4,300 digits, and a
    message must not fail while it reports another failure.
    """
    try:
        text = repr(value)
    except ValueError:
        return f"an integer of {value.bit_length()} bits" if isinstance(value, int) else f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# MLflow's name, so `except mlflow.MlflowException` keeps working after
# `import jupyter_lifecycle as mlflow`.
MlflowException = LifecycleError
