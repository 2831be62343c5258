"""Runs in threads: each thread has its own active-run stack, as in MLflow."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jupyter_lifecycle as lc


def test_runs_started_in_worker_threads_are_independent_and_all_finish(home: Path) -> None:
    # MLflow's multithreading example: a parent run, children trained in a pool.
    barrier = threading.Barrier(4)

    def train(i: int) -> str:
        barrier.wait()  # all four start their runs at the same moment
        with lc.start_run(run_name=f"child-{i}", nested=True, parent_run_id=parent_id) as run:
            lc.log_param("i", i)
            for step in range(50):
                lc.log_metric("loss", 1 / (step + 1), step=step)
            assert lc.active_run() is run  # this thread's run, not another thread's
        return run.info.run_id

    with lc.start_run(run_name="parent") as parent:
        parent_id = parent.info.run_id
        with ThreadPoolExecutor(max_workers=4) as pool:
            child_ids = list(pool.map(train, range(4)))
        assert lc.active_run() is parent  # the workers' runs never touched the main thread's stack
    runs = {r.info.run_id: r for r in lc.search_runs(output_format="list")}
    assert all(runs[c].info.parent_run_id == parent_id for c in child_ids)
    assert {runs[c].data.params["i"] for c in child_ids} == {"0", "1", "2", "3"}
    assert {r.info.status for r in runs.values()} == {"FINISHED"}
    assert all(len(lc.get_metric_history(c, "loss")) == 50 for c in child_ids)


def test_a_worker_run_is_not_a_child_of_the_main_threads_run_by_accident(home: Path) -> None:
    def work() -> lc.Run:
        with lc.start_run() as run:  # no "run ... is already active": the main thread's run is not ours
            pass
        return lc.get_run(run.info.run_id)

    with lc.start_run():
        with ThreadPoolExecutor(max_workers=1) as pool:
            run = pool.submit(work).result()
    assert run.info.parent_run_id is None and run.info.status == "FINISHED"


def test_active_run_is_a_run(home: Path) -> None:
    with lc.start_run(run_name="r", tags={"team": "a"}) as run:
        assert isinstance(run, lc.Run)
        assert run.info.run_name == "r" and run.data.tags["team"] == "a"
        assert run.to_dictionary()["info"]["run_id"] == run.info.run_id
        assert {run: 1}[run] == 1  # hashable, by identity
    assert lc.last_active_run().info.status == "FINISHED"
