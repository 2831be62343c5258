"""Issue #12, defect 4: each input that raised a raw Python exception is now an ``InvalidInput`` naming the problem.

Every case runs against a real store in a temporary folder; after each
refusal the store still works and holds nothing half-written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle.errors import InvalidInput, shown
from jupyter_lifecycle.store.search import MAX_CONDITIONS


@pytest.fixture
def run_id(client: lc.Client) -> str:
    """A run with a metric, a param and an artifact folder ``dir/``."""
    run = client.create_run(client.create_experiment("hostile"))
    client.log_metric(run.info.run_id, "acc", 0.5, synchronous=True)
    client.log_param(run.info.run_id, "p", "1")
    client.log_text(run.info.run_id, "inside", "dir/f.txt")
    return run.info.run_id


def searches(client: lc.Client, run_id: str) -> dict[tuple[str, str, str], Callable[..., Any]]:
    """Every search that takes a filter string and max_results, as ``f(filter_string, max_results)``.

    Keyed by (what, its name attribute, its time attribute), to write one filter for all.
    """
    experiment_id = client.get_run(run_id).info.experiment_id
    return {
        ("client.search_runs", "run_name", "start_time"): lambda f, n: client.search_runs([experiment_id], f, max_results=n),
        ("lc.search_runs", "run_name", "start_time"): lambda f, n: lc.search_runs([experiment_id], f, max_results=n),
        ("search_experiments", "name", "creation_time"): lambda f, n: client.search_experiments(filter_string=f, max_results=n),
        ("search_registered_models", "name", "creation_timestamp"): lambda f, n: client.search_registered_models(f, n),
        ("search_model_versions", "name", "creation_timestamp"): lambda f, n: client.search_model_versions(f, n),
        ("lc.search_model_versions", "name", "creation_timestamp"): lambda f, n: lc.search_model_versions(f, n),
        ("lc.search_registered_models", "name", "creation_timestamp"): lambda f, n: lc.search_registered_models(f, n),
        ("lc.search_logged_models", "name", "creation_timestamp"):
            lambda f, n: lc.search_logged_models([experiment_id], f, max_results=n),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("filter_string", "max_results", "message"),
    [
        ("{time} > 99999999999999999999", 10, "does not fit in SQLite's 64 bits"),
        (" and ".join(["{time} > 0"] * 2000), 10, f"more than {MAX_CONDITIONS} conditions"),
        ("{name} = '\ud800'", 10, "lone surrogate"),
        ("{name} LIKE '" + "%" * 60_000 + "'", 10, "SQLite's limit is 50000"),
        ("{name} ILIKE '" + "é" * 30_000 + "'", 10, "SQLite's limit is 50000"),
        ("", 10**30, "max_results must be between 0 and 2**62"),
        ("", 10**5000, "an integer of 16610 bits"),
        ("", -1, "max_results must be between 0 and 2**62"),
        ("", "10", "max_results must be an integer such as 100, got '10'"),
        ("", 2.5, "max_results must be an integer"),
        (7, 10, "filter_string must be a string, got 7"),
    ],
    ids=lambda value: shown(value, 30),
)
def test_filters_and_limits_are_refused_by_every_search(
    client: lc.Client, run_id: str, filter_string: Any, max_results: Any, message: str
) -> None:
    for (_, name, time), search in searches(client, run_id).items():
        given = filter_string.format(name=name, time=time) if isinstance(filter_string, str) else filter_string
        with pytest.raises(InvalidInput, match=message.replace("*", r"\*").replace("(", r"\(")):
            search(given, max_results)
    assert len(client.search_runs([client.get_run(run_id).info.experiment_id], "metrics.acc > 0.1", max_results=5)) == 1


def test_a_filter_error_stays_short_and_printable() -> None:
    from jupyter_lifecycle.store.search import parse_filter

    with pytest.raises(InvalidInput) as info:
        parse_filter(" and ".join(["metrics.acc > 0"] * 2000) + " and params.x = '\ud800'")
    message = str(info.value)
    message.encode("utf-8")  # no lone surrogate in the message itself
    assert len(message) < 400 and message.splitlines()[-1].endswith("^")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c, r: c.log_text(r, "x", "a\x00b.txt"), "contains a NUL character"),
        (lambda c, r: c.log_text(r, "x", "a" * 300 + ".txt"), "is 304 bytes; file systems allow 255"),
        (lambda c, r: c.log_text(r, "x", "/".join(["b" * 200] * 6)), "the limit is 1024"),
        (lambda c, r: c.log_text(r, "x", "\udc80.txt"), "lone surrogate"),
        (lambda c, r: c.log_dict(r, {"a": 1}, "dir"), "'dir' is a folder"),
        (lambda c, r: c.log_text(r, "x", "dir"), "'dir' is a folder"),
        (lambda c, r: c.log_text(r, "x", "dir/f.txt/g.txt"), "needs the folder 'dir/f.txt', which is a file"),
        (lambda c, r: c.log_param(r, "a\n", 1), r"invalid param key 'a\\n'"),
        (lambda c, r: c.set_tag(r, "t\n", 1), r"invalid tag key 't\\n'"),
        (lambda c, r: c.log_metric(r, "m\n", 1.0), r"invalid metric key 'm\\n'"),
        (lambda c, r: c.log_param(r, "b", "\ud800"), "lone surrogate"),
        (lambda c, r: c.log_metric(r, "m", 10**400), "is not a float"),
        (lambda c, r: c.log_metric(r, "m", 1.0, step=10**30), "step .* is outside SQLite's 64-bit integers"),
        (lambda c, r: c.log_metric(r, "m", 1.0, timestamp=float("nan")), "timestamp must be an integer"),
        (lambda c, r: c.create_registered_model("."), "'.' and '..' name folders"),
        (lambda c, r: c.create_registered_model(".."), "'.' and '..' name folders"),
        (lambda c, r: c.create_registered_model("a\nb"), r"contains '\\n'"),
        (lambda c, r: c.create_registered_model("a\x00b"), r"contains '\\x00'"),
        (lambda c, r: c.create_registered_model("a\u2028b"), "line separator"),
        (lambda c, r: c.create_registered_model("a" * 257), "257 characters long; the limit is 256"),
        (lambda c, r: c.create_registered_model("\ud800"), "lone surrogate"),
        (lambda c, r: c.rename_registered_model("m", "x\ny"), r"contains '\\n'"),
        (lambda c, r: c.set_registered_model_alias("m", "champion\n", 1), "invalid alias"),
        (lambda c, r: c.get_model_version("m", "1" * 40), "larger than any version can be"),
        (lambda c, r: c.get_model_version("m", 10**30), "larger than any version can be"),
        (lambda c, r: c.get_model_version("m", "²"), "a positive number"),
        (lambda c, r: c.create_experiment("\ud800"), "lone surrogate"),
        (lambda c, r: c.update_registered_model("m", "\udfff"), "lone surrogate"),
    ],
    ids=lambda value: None if callable(value) else value,
)
def test_names_keys_paths_and_values_are_refused(client: lc.Client, run_id: str, call: Callable, message: str) -> None:
    client.create_registered_model("m")
    before = sorted(p.relative_to(client.artifact_dir(run_id)) for p in client.artifact_dir(run_id).rglob("*"))
    with pytest.raises(InvalidInput, match=message):
        call(client, run_id)
    after = sorted(p.relative_to(client.artifact_dir(run_id)) for p in client.artifact_dir(run_id).rglob("*"))
    assert after == before  # nothing half-written, no temporary file left
    assert (client.artifact_dir(run_id) / "dir" / "f.txt").read_text() == "inside"
    client.log_metric(run_id, "after", 1.0, synchronous=True)  # a refused point never blocks the next ones
    assert client.get_run(run_id).data.metrics["after"] == 1.0
    assert [m.name for m in client.search_registered_models()] == ["m"]


def test_artifact_names_up_to_the_limits_are_written(client: lc.Client, run_id: str) -> None:
    fits = "é" * 125 + ".txt"  # 254 bytes of UTF-8
    client.log_text(run_id, "ok", fits)
    assert (client.artifact_dir(run_id) / fits).read_text() == "ok"
    client.log_text(run_id, "long suffix", "x." + "y" * 250)  # the temporary file's name stays under 255 bytes
    assert (client.artifact_dir(run_id) / ("x." + "y" * 250)).read_text() == "long suffix"


def test_the_registered_name_limit_is_256_characters(client: lc.Client) -> None:
    assert client.create_registered_model("a" * 256).name == "a" * 256
    assert client.create_registered_model("emoji 😀 and ünïcode").name == "emoji 😀 and ünïcode"


def test_shown_never_fails_on_huge_integers() -> None:
    assert shown(10**5000) == "an integer of 16610 bits"
    assert shown("x" * 500, 20) == "'xxxxxxxxxxxxxxxx..."


def test_model_uris_with_huge_or_strange_versions_are_invalid_input(client: lc.Client, tmp_path: Path) -> None:
    from jupyter_lifecycle.models.uri import resolve_model_uri

    for uri, message in [("models:/m/" + "1" * 40, "larger than any version"), ("file://[", "Invalid IPv6 URL"),
                         ("~nobody-here/model", "home directory")]:
        with pytest.raises(InvalidInput, match=message):
            resolve_model_uri(uri)
    with pytest.raises(lc.errors.NotFound):
        resolve_model_uri("a" * 5000)  # "File name too long" names nothing
