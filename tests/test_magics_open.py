"""``%lifecycle open``: the output the lab extension turns into a main-area view, in an in-process IPython shell."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.utils.capture import capture_output

import jupyter_lifecycle as lc
from jupyter_lifecycle.notebook.magics.lab import OPEN_MIME


def opened(shell: Any, line: str) -> dict[str, Any]:
    """The payload ``line`` displays for the lab extension (its error text if the cell failed)."""
    with capture_output() as captured:
        result = shell.run_cell(line, store_history=True)
    if result.error_in_exec is not None:
        return {"error": str(result.error_in_exec)}
    (output,) = captured.outputs
    assert "opens in JupyterLab" in output.data["text/plain"]
    return output.data[OPEN_MIME]


def test_open_names_the_command_and_its_arguments(ipython: Any) -> None:
    lc.set_experiment("open-me")
    ids = []
    for name in ("a", "b"):
        with lc.start_run(run_name=name) as run:
            lc.log_metric("m", 1.0)
            lc.log_text("hi", "notes.txt")
        ids.append(run.info.run_id)
    experiment_id = lc.get_experiment_by_name("open-me").experiment_id

    runs = opened(ipython, "%lifecycle open runs")
    assert (runs["command"], runs["args"]) == ("jupyter-lifecycle:open-runs", {"experimentIds": [experiment_id]})
    assert runs["label"] == "Runs of open-me" and runs["created"] > 0
    assert opened(ipython, "%lifecycle open runs open-me")["args"] == {"experimentIds": [experiment_id]}
    both = opened(ipython, f"%lifecycle open compare {ids[0][:8]} {ids[1]}")
    assert (both["command"], both["args"]) == ("jupyter-lifecycle:compare", {"runIds": ids})
    artifact = opened(ipython, f"%lifecycle open artifact {ids[0]} notes.txt")
    assert artifact["args"] == {"runId": ids[0], "path": "notes.txt"}
    lc.Client().create_registered_model("m1")
    assert opened(ipython, "%lifecycle open model m1")["args"] == {"name": "m1"}
    missing = opened(ipython, "%lifecycle open model m1 3")["error"]
    assert "m1" in missing and "3" in missing


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("%lifecycle open compare abc", "at least two runs"),
        ("%lifecycle open model", "NAME [VERSION]"),
        ("%lifecycle open model nope", "nope"),
        ("%lifecycle open runs no-such-experiment", "no-such-experiment"),
        ("%lifecycle open artifact", "RUN PATH"),
    ],
)
def test_open_refuses_what_it_cannot_open(ipython: Any, line: str, needle: str) -> None:
    assert needle in opened(ipython, line)["error"]
