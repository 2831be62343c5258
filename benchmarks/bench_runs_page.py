"""One page of the runs grid at scale: ``GET runs`` over a real ``jupyter server``, side by side with raw sqlite3.

    .venv/bin/python benchmarks/bench_runs_page.py            # 100,000 runs
    .venv/bin/python benchmarks/bench_runs_page.py --runs 10000

The grid asks for 100 runs at a time with a few columns (``columns=``), the
first page and a later page (``page_token``), sorted by a metric, with and
without a filter. Each query is timed 30 times over HTTP (the wall time the
grid waits for, JSON included); p50 and p99 are printed. The reference is
raw sqlite3 on tables of the same size (one row per run, one per param and
metric, indexed as a search needs), the same page asked in SQL: the physical
limit, not a competitor. MLflow is not timed here: seeding 100,000 runs into
its store takes over an hour on this machine.

Then Jupyter's own ``/api/status`` is timed 200 times with the server idle,
while one client lists the grid's pages back to back (100 runs, filtered and
sorted by a metric), and while two clients list slow pages (a filter no index
answers, 1,000 runs a page): store queries run off the server's event loop,
so the goal is that the status stays fast (p99 < 10 ms, issue #14; on the
event loop it took 540 ms). Asserts nothing; the machine may be loaded.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGE = 100
REPEATS = 30
GOAL_MS = 100.0
STATUS_REPEATS = 200
STATUS_GOAL_MS = 10.0


def seed(home: Path, runs: int) -> str:
    """``runs`` finished runs with 10 params and 5 metrics each, in one experiment; its id."""
    import jupyter_lifecycle as lc
    from jupyter_lifecycle.entities import Metric, Param

    client = lc.Client(home)
    experiment_id = client.create_experiment("scale")
    rng = random.Random(0)
    now = int(time.time() * 1000)
    for i in range(runs):
        run = client.create_run(experiment_id, run_name=f"run-{i}")
        client.log_batch(
            run.info.run_id,
            params=[Param(f"p{j}", f"v{rng.randint(0, 9)}") for j in range(10)],
            metrics=[Metric(f"m{j}", rng.random(), now, 0) for j in range(5)],
        )
        client.set_terminated(run.info.run_id)
    client.flush()
    return experiment_id


def percentiles(call: Callable[[], object], repeats: int = REPEATS) -> tuple[float, float]:
    """p50 and p99 in ms of ``repeats`` calls (after one warm-up)."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]


def raw_reference(runs: int) -> dict[str, tuple[float, float]]:
    """The same pages in raw sqlite3 on tables of the same size."""
    rng = random.Random(0)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE runs (run_id TEXT PRIMARY KEY, name TEXT, status TEXT, start_time INTEGER)")
        conn.execute("CREATE TABLE params (run_id TEXT, key TEXT, value TEXT, PRIMARY KEY (run_id, key))")
        conn.execute("CREATE TABLE metrics (run_id TEXT, key TEXT, value REAL, PRIMARY KEY (run_id, key))")
        ids = [uuid.uuid4().hex for _ in range(runs)]
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO runs VALUES (?, ?, 'FINISHED', ?)", [(r, f"run-{i}", i) for i, r in enumerate(ids)])
        conn.executemany("INSERT INTO params VALUES (?, ?, ?)",
                         [(r, f"p{j}", f"v{rng.randint(0, 9)}") for r in ids for j in range(10)])  # fmt: skip
        conn.executemany("INSERT INTO metrics VALUES (?, ?, ?)", [(r, f"m{j}", rng.random()) for r in ids for j in range(5)])
        conn.execute("COMMIT")
        conn.execute("CREATE INDEX metrics_by_key ON metrics (key, value)")
        conn.execute("CREATE INDEX params_by_key ON params (key, value)")
        page = (
            "SELECT r.run_id, r.name, r.status, r.start_time, m.value, "
            "(SELECT value FROM params WHERE run_id = r.run_id AND key = 'p0') "
            "FROM runs r JOIN metrics m ON m.run_id = r.run_id AND m.key = 'm0' {where} "
            "ORDER BY m.value DESC LIMIT 100 OFFSET {offset}"
        )
        filtered = "WHERE EXISTS (SELECT 1 FROM params p WHERE p.run_id = r.run_id AND p.key = 'p1' AND p.value = 'v3')"
        for name, where, offset in QUERIES_RAW:
            sql = page.format(where=filtered if where else "", offset=offset)
            out[name] = percentiles(lambda sql=sql: conn.execute(sql).fetchall())
        conn.close()
    return out


def status_while(status_url: str, headers: dict[str, str], runs_url: str, page: dict[str, str],
                 clients: int) -> dict[str, tuple[float, float]]:  # fmt: skip
    """p50/p99 of Jupyter's status while ``clients`` threads list ``page`` back to back, and the pages'."""
    import threading

    import requests

    session = requests.Session()
    stop, listings = threading.Event(), []

    def lister() -> None:
        own = requests.Session()
        while not stop.is_set():
            start = time.perf_counter()
            own.get(runs_url, params=page, headers=headers, timeout=120).raise_for_status()
            listings.append((time.perf_counter() - start) * 1000)

    threads = [threading.Thread(target=lister) for _ in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # the listings under way
    try:
        status = percentiles(lambda: session.get(status_url, headers=headers, timeout=120).raise_for_status(),
                             STATUS_REPEATS)  # fmt: skip
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    return {"status": status, "listings": (sorted(listings)[len(listings) // 2], len(listings))}


QUERIES_RAW = [
    ("first page, order by metric", False, 0),
    ("page 10, order by metric", False, 900),
    ("first page, filter + order by metric", True, 0),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    args = parser.parse_args()

    import requests

    from tests.jupyter_process import running_jupyter

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        start = time.perf_counter()
        experiment_id = seed(base / "store", args.runs)
        seconds = time.perf_counter() - start
        print(f"seeded {args.runs:,} runs (10 params, 5 metrics) in {seconds:.0f} s ({args.runs / seconds:,.0f} runs/s)")
        with running_jupyter("server", base) as server:
            url = server.url + "lifecycle/api/runs"
            headers = {"Authorization": f"token {server.token}"}
            session = requests.Session()
            common = {"experiment_id": experiment_id, "max_results": str(PAGE), "order_by": "metrics.m0 DESC",
                      "columns": "metrics.m0,metrics.m1,params.p0,params.p1"}  # fmt: skip

            def get(**extra: str) -> dict:
                response = session.get(url, params={**common, **extra}, headers=headers, timeout=120)
                response.raise_for_status()
                return response.json()

            token = None
            for _ in range(9):  # the token of page 10
                token = get(**({"page_token": token} if token else {}))["next_page_token"]
            ours = {
                "first page, order by metric": percentiles(lambda: get()),
                "page 10, order by metric": percentiles(lambda: get(page_token=token)),
                "first page, filter + order by metric": percentiles(lambda: get(filter="params.p1 = 'v3'")),
            }
            size = len(session.get(url, params=common, headers=headers, timeout=120).content)
            grid = {**common, "filter": "params.p1 = 'v3'"}
            slow = {"experiment_id": experiment_id, "max_results": "1000", "filter": "params.p1 LIKE '%3'",
                    "order_by": "params.p2 DESC"}  # fmt: skip
            status = {"idle": percentiles(lambda: session.get(server.url + "api/status", headers=headers,
                                                              timeout=120).raise_for_status(), STATUS_REPEATS),
                      "grid": status_while(server.url + "api/status", headers, url, grid, 1),
                      "slow": status_while(server.url + "api/status", headers, url, slow, 2)}  # fmt: skip
    raw = raw_reference(args.runs)
    print(f"\nGET runs, {PAGE} runs a page of {args.runs:,}, 4 columns ({size / 1024:.0f} KB a page); "
          f"ms over HTTP vs raw sqlite3 SQL; goal p99 < {GOAL_MS:.0f} ms")  # fmt: skip
    print(f"{'query':40} {'ours p50':>9} {'ours p99':>9} {'raw p50':>8} {'raw p99':>8} {'p99 ratio':>9}  goal")
    for name, (p50, p99) in ours.items():
        r50, r99 = raw[name]
        goal = "met" if p99 < GOAL_MS else "NOT met"
        print(f"{name:40} {p50:9.1f} {p99:9.1f} {r50:8.1f} {r99:8.1f} {p99 / max(r99, 1e-6):8.1f}x  {goal}")
    idle50, idle99 = status["idle"]
    print(f"\nJupyter's GET /api/status, {STATUS_REPEATS} requests each, ms; goal p99 < {STATUS_GOAL_MS:.0f} ms "
          f"while the store is busy\n{'':50} {'p50':>6} {'p99':>6}\n{'idle':50} {idle50:6.1f} {idle99:6.1f}")  # fmt: skip
    for name, label in (("grid", "while 1 client lists the grid's pages"),
                        ("slow", "while 2 clients list 1,000-run pages, no index")):  # fmt: skip
        (p50, p99), (each, listed) = status[name]["status"], status[name]["listings"]
        print(f"{label:50} {p50:6.1f} {p99:6.1f}  {'met' if p99 < STATUS_GOAL_MS else 'NOT met'} "
              f"({listed:.0f} pages listed meanwhile, p50 {each:.0f} ms each)")

if __name__ == "__main__":
    main()
