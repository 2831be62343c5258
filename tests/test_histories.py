"""Metric histories as numpy columns and DataFrames (issue #14), checked against the Metric list API."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle.entities import Metric
from jupyter_lifecycle.errors import InvalidInput
from jupyter_lifecycle.store import tracking as tracking_store

AWKWARD = [0.1234567890123456, 1 / 3, 5e-324, 1.23456789012345678e199, -0.0, math.inf, -math.inf, math.nan, 2.0**53 + 1]
# Beyond 1e200 in magnitude SQLite's printf may be one unit in the last place off (documented): checked apart.
HUGE = 1.7976931348623157e308


def _fill(client: lc.Client) -> tuple[str, str]:
    """Two runs: awkward values, repeated steps logged with falling timestamps, and an empty key."""
    experiment_id = client.create_experiment("h")
    first = client.create_run(experiment_id).info.run_id
    second = client.create_run(experiment_id).info.run_id
    points = [(first, "acc", value, 1_000 + i, i) for i, value in enumerate(AWKWARD)]
    # step 2 three times, timestamps out of order; two points share (step, timestamp): logging order decides
    points += [(first, "loss", 3.0, 50, 2), (first, "loss", 1.0, 10, 2), (first, "loss", 2.0, 10, 2),
               (first, "loss", 9.0, 5, -7), (first, "loss", 4.0, 1, 40)]  # fmt: skip
    points += [(second, "loss", float(i), 2_000 + i, 100 - i) for i in range(30)]
    points += [(second, "huge", HUGE, 1, 0), (second, "huge", -HUGE / 3, 2, 1)]
    client.store.tracking.log_metrics(points)
    return first, second


def _as_rows(frame: pd.DataFrame) -> list[tuple[int, int, float]]:
    return list(zip(frame["step"].tolist(), frame["timestamp"].tolist(), frame["value"].tolist(), strict=True))


def _same(a: list[tuple[int, int, float]], b: list[tuple[int, int, float]]) -> bool:
    return len(a) == len(b) and all(
        x[:2] == y[:2] and (x[2] == y[2] and math.copysign(1, x[2]) == math.copysign(1, y[2])
                            or math.isnan(x[2]) and math.isnan(y[2]))
        for x, y in zip(a, b, strict=True)
    )  # fmt: skip


@pytest.mark.parametrize("chunk", [tracking_store.HISTORY_CHUNK, 2, 3])
def test_frame_matches_metric_list_exactly(client: lc.Client, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    # chunk 2 and 3 force the chunked path (several range queries) through the same data
    monkeypatch.setattr(tracking_store, "HISTORY_CHUNK", chunk)
    first, second = _fill(client)
    for run_id, key in ((first, "acc"), (first, "loss"), (second, "loss")):
        listed = client.get_metric_history(run_id, key)
        frame = client.get_metric_history(run_id, key, as_frame=True)
        assert list(frame.columns) == ["step", "timestamp", "value"]
        assert [str(t) for t in frame.dtypes] == ["int64", "int64", "float64"]
        assert _same(_as_rows(frame), [(m.step, m.timestamp, m.value) for m in listed])
    huge = client.get_metric_history(second, "huge", as_frame=True)["value"].tolist()
    assert huge[0] == pytest.approx(HUGE, rel=1e-15) and huge[1] == pytest.approx(-HUGE / 3, rel=1e-15)
    loss = client.get_metric_history(first, "loss", as_frame=True)
    assert loss["value"].tolist() == [9.0, 1.0, 2.0, 3.0, 4.0]  # by step, then time, then logging order


def test_histories_frame_for_many_runs_and_keys(client: lc.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracking_store, "HISTORY_CHUNK", 7)  # groups of series and chunked series together
    first, second = _fill(client)
    frame = client.get_metric_histories([second, first])
    assert list(frame.columns) == ["run_id", "key", "step", "timestamp", "value"]
    assert isinstance(frame["run_id"].dtype, pd.CategoricalDtype)
    order = list(dict.fromkeys(zip(frame["run_id"], frame["key"], strict=True)))
    assert order == [(second, "huge"), (second, "loss"), (first, "acc"), (first, "loss")]  # runs as asked, then keys
    for (run_id, key), part in frame.groupby(["run_id", "key"], observed=True, sort=False):
        listed = client.get_metric_history(run_id, key)
        assert _same(_as_rows(part), [(m.step, m.timestamp, m.value) for m in listed]) or key == "huge"
    only_loss = client.get_metric_histories([first, second, "no-such-run"], ["loss", "nope"])
    assert set(only_loss["key"]) == {"loss"} and len(only_loss) == 5 + 30
    assert client.get_metric_histories([]).empty


def test_fluent_as_frame_and_refusals(home: Path) -> None:
    lc.set_experiment("f")
    with lc.start_run() as run:
        for step in range(5):
            lc.log_metric("loss", 1 / (step + 1), step=step)
    frame = lc.get_metric_history(run.info.run_id, "loss", as_frame=True)
    assert isinstance(frame, pd.DataFrame) and frame["step"].tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(frame["value"].to_numpy(), [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5])
    assert lc.get_metric_history(run.info.run_id, "missing", as_frame=True).empty
    with pytest.raises(InvalidInput, match="as_frame must be True or False"):
        lc.get_metric_history(run.info.run_id, "loss", as_frame="yes")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="lists of strings"):
        lc.Client().get_metric_histories(run.info.run_id)


def test_metric_has_slots_and_still_converts_to_dict() -> None:
    point = Metric("loss", 0.5, 1, 2, "r")
    assert not hasattr(point, "__dict__")
    assert dict(point)["value"] == 0.5 and dict(point)["run_id"] == "r"
