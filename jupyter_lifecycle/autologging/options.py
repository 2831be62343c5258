"""MLflow's other ``autolog`` options: taken when they ask for what autolog here does, refused otherwise.

MLflow code passes options such as ``log_input_examples=True`` or
``exclusive=False``; each is accepted when its value describes what autolog
here does anyway, and refused with an ``InvalidInput`` saying why when it asks
for something it does not do, so no option is ever silently ignored.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInput

# option -> (the values autolog here honours, what it does)
_HONOURED: dict[str, tuple[tuple[Any, ...], str]] = {
    "log_input_examples": ((True,), "it always logs 5 rows of the training data as the model's input example"),
    "log_model_signatures": ((True,), "it always logs the model's signature"),
    "exclusive": ((False,), "it also logs into runs you started (exclusive=True is not supported)"),
    "disable_for_unsupported_versions": ((True, False), "every installed version is supported"),
    "log_traces": ((True, False), "no autologged library here produces traces"),
    "extra_tags": ((None,), "it sets no extra tags on the runs it creates (extra_tags is not supported)"),
    "registered_model_name": ((None,), "it does not register the models it logs (use lc.register_model)"),
}


def check_mlflow_options(framework: str, options: dict[str, Any], supported: str) -> None:
    """Accept MLflow ``autolog`` options that match what ``framework``'s autolog does; refuse the rest."""
    for name, value in sorted(options.items()):
        known = _HONOURED.get(name)
        if known is None:
            raise InvalidInput(f"{framework} autolog has no option {name!r}: it takes {supported}")
        values, does = known
        if not any(value is v or (v is not None and value == v) for v in values):
            raise InvalidInput(f"{framework} autolog cannot take {name}={value!r}: {does}")
