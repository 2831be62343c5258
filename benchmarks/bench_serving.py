"""Scoring server: jupyter-lifecycle ``serve`` vs ``mlflow models serve``, same model, same load.

    .venv/bin/python benchmarks/bench_serving.py [--requests 2000] [--seconds 10]

One scikit-learn pipeline is saved once (MLflow's format, which both load)
and served by each server on 127.0.0.1. Load comes from a separate process
(``--client`` mode of this script, keep-alive ``http.client`` connections,
one process per concurrent client), bounded by a request count and a time
limit per scenario. Reported: time from start to the first 200 on ``/ping``,
then requests/s and p50/p99 latency for 1-row and 1000-row
``dataframe_split`` requests, sequential and with 4 concurrent clients.
Our server runs twice, without and with ``--log-requests`` (every request
written to the store's inference table by a background thread), to show
what logging costs: the p99 may grow by at most 0.5 ms (issue #16). That
cost is measured on its own too, robustly: both servers run side by side and
take turns over ``--ab-rounds`` interleaved rounds (A B, B A, ...), with the
server process's CPU per request (psutil) beside wall p50/p99, and the
differences printed with their spread (``--logging-only`` for just that).

MLflow runs from ``.venv-mlflow`` (``make mlflow-venv``) with
``--env-manager local``; without it only this project's numbers are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MLFLOW = Path(os.environ.get("BENCH_MLFLOW_VENV", ROOT / ".venv-mlflow")) / "bin" / "mlflow"
TARGETS = {"ratio": 2.0, "p99_sequential_ms": 5.0, "ready_s": 2.0, "logging_p99_ms": 0.5}
OURS, LOGGING = "jupyter-lifecycle", "jupyter-lifecycle --log-requests"
MLFLOW_REFERENCE = "MLflow 3.17 on this machine (issue #6): 123 req/s seq (p99 18 ms), 170 req/s x4 (p99 51 ms), ready 9.9 s"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_model(folder: Path) -> tuple[Path, list[str]]:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from jupyter_lifecycle import sklearn as lc_sklearn

    rng = np.random.default_rng(0)
    columns = [f"f{i}" for i in range(8)]
    X = pd.DataFrame(rng.normal(size=(2000, 8)), columns=columns)
    y = (X["f0"] + X["f1"] * 0.5 > 0).astype(int)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    path = folder / "model"
    lc_sklearn.save_model(model, path, input_example=X.head(5))
    X.to_csv(folder / "rows.csv", index=False)
    return path, columns


def payload(folder: Path, columns: list[str], rows: int) -> Path:
    import pandas as pd

    frame = pd.read_csv(folder / "rows.csv").head(rows)
    file = folder / f"payload_{rows}.json"
    file.write_text(json.dumps({"dataframe_split": {"columns": columns, "data": frame.to_numpy().tolist()}}))
    return file


def wait_ready(proc: subprocess.Popen[bytes], port: int, started: float, timeout: float = 120) -> float:
    import http.client

    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {log_file(port)}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                return time.perf_counter() - started
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("server not ready in time")


def log_file(port: int) -> Path:
    """Where a server's output goes (kept when it fails to start)."""
    return Path(tempfile.gettempdir()) / f"bench_serving_{port}.log"


def start(command: list[str], port: int, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], float]:
    started = time.perf_counter()
    log = open(log_file(port), "wb")
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, wait_ready(proc, port, started)


def stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # the server's own session: uvicorn workers included
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def load(port: int, body_file: Path, clients: int, requests: int, seconds: float) -> dict[str, float]:
    """Run the load generator in a separate process and return its numbers."""
    out = subprocess.run(
        [sys.executable, __file__, "--client", str(port), str(body_file), str(clients), str(requests), str(seconds)],
        capture_output=True, text=True, timeout=seconds * 3 + 60,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"the load generator failed against port {port}: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout)


# ---- the load generator (runs in its own process) ---------------------------


def _one_client(args: tuple[int, bytes, int, float, float]) -> list[float]:
    import http.client

    port, body, requests, deadline, _ = args
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Content-Type": "application/json"}
    for _ in range(20):  # warm-up, not counted
        conn.request("POST", "/invocations", body, headers)
        conn.getresponse().read()
    latencies = []
    while len(latencies) < requests and time.time() < deadline:
        t0 = time.perf_counter()
        conn.request("POST", "/invocations", body, headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - t0)
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
    return latencies


def client_main(port: int, body_file: str, clients: int, requests: int, seconds: float) -> None:
    from multiprocessing import Pool

    body = Path(body_file).read_bytes()
    per_client = max(1, requests // clients)
    with Pool(clients) as pool:
        deadline = time.time() + seconds + 1.0  # +1 s: the pool's start-up
        t0 = time.perf_counter()
        results = pool.map(_one_client, [(port, body, per_client, deadline, 0.0)] * clients)
        elapsed = time.perf_counter() - t0
    latencies = sorted(x for r in results for x in r)
    # Throughput from the slowest client's span: each client runs the same count.
    span = max(sum(r) for r in results)
    n = len(latencies)
    print(json.dumps({
        "requests": n,
        "rps": n / span if span else 0.0,
        "p50_ms": latencies[n // 2] * 1000,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000,
        "elapsed_s": elapsed,
    }))  # fmt: skip


# ---- inference logging overhead, without HTTP --------------------------------


def overhead_main(model: str, body_file: str, requests: int, logging: bool, home: str) -> None:
    """Time ``ScoringApp.respond`` for /invocations in this process, with or without the inference log writer."""
    os.environ["JUPYTER_LIFECYCLE_HOME"] = home
    from jupyter_lifecycle.scoring.model import load_scoring_model
    from jupyter_lifecycle.serving.inference import RequestRecorder
    from jupyter_lifecycle.serving.server import ScoringApp
    from jupyter_lifecycle.store import open_store

    body = Path(body_file).read_bytes()
    recorder = None
    if logging:
        store = open_store(home)
        row = store.endpoints.create(model, None, None, "127.0.0.1", 1, "local", True, pid=os.getpid(),
                                     status="RUNNING")  # fmt: skip
        recorder = RequestRecorder(store, row)
    app = ScoringApp(load_scoring_model(model), recorder=recorder)
    for _ in range(50):
        app.respond("POST", "/invocations", "application/json", body)
    latencies = []
    thread0, process0 = time.thread_time(), time.process_time()
    for _ in range(requests):
        t0 = time.perf_counter()
        app.respond("POST", "/invocations", "application/json", body)
        latencies.append(time.perf_counter() - t0)
    thread_cpu = time.thread_time() - thread0  # the serving thread alone
    if recorder is not None:
        recorder.close()
    process_cpu = time.process_time() - process0  # with the writer thread's work, all of it written
    latencies.sort()
    n = len(latencies)
    print(json.dumps({"p50_ms": latencies[n // 2] * 1000, "p99_ms": latencies[int(n * 0.99)] * 1000,
                      "thread_cpu_us": thread_cpu / n * 1e6, "process_cpu_us": process_cpu / n * 1e6}))


def overhead(model: Path, bodies: dict[int, Path], requests: int, rounds: int, folder: Path) -> dict[str, dict[str, float]]:
    """Both modes run at the same time in two processes (so they share the machine's load), ``rounds`` times;
    the median p50/p99 of each mode is kept."""
    import statistics

    results: dict[str, dict[str, float]] = {}
    for rows, body in bodies.items():
        runs: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
        for round_ in range(rounds):
            procs = {mode: subprocess.Popen(
                [sys.executable, __file__, "--overhead", str(model), str(body), str(requests), mode,
                 str(folder / f"overhead_{rows}_{round_}_{mode}")], stdout=subprocess.PIPE, text=True)
                for mode in ("off", "on")}  # fmt: skip
            for mode, proc in procs.items():
                out, _ = proc.communicate(timeout=600)
                if proc.returncode != 0:
                    raise RuntimeError(f"the overhead run ({mode}) failed")
                runs[mode].append(json.loads(out))
        for mode, found in runs.items():
            results[f"{rows}/{mode}"] = {k: statistics.median(r[k] for r in found) for k in found[0]}
    return results


# ---- inference logging over HTTP: interleaved A/B rounds ---------------------


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU of a server process and its children (the forked workers)."""
    import psutil

    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def logging_ab(model: Path, body: Path, requests: int, rounds: int, workers: int, env: dict[str, str]
               ) -> dict[str, list[dict[str, float]]]:  # fmt: skip
    """Serve ``model`` twice at once, without (A) and with (B) ``--log-requests``, and load them in turn:
    ``rounds`` rounds of ``requests`` sequential 1-client requests each, the order flipped every round (A B, B A...),
    so a burst of load from elsewhere hits both sides alike. Per round and side: wall p50/p99 from the client,
    and the server process's CPU per request (psutil, the writer thread's work included)."""
    command = [sys.executable, "-m", "jupyter_lifecycle.cli", "serve", str(model), "--workers", str(workers)]
    procs: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    found: dict[str, list[dict[str, float]]] = {"A": [], "B": []}
    try:
        for side, extra in (("A", []), ("B", ["--log-requests"])):
            port = free_port()
            proc, _ = start([*command, *extra, "--port", str(port)], port, env)
            procs[side] = (proc, port)
        for round_ in range(rounds):
            for side in ("A", "B") if round_ % 2 == 0 else ("B", "A"):
                proc, port = procs[side]
                cpu0 = server_cpu_seconds(proc.pid)
                numbers = load(port, body, 1, requests, requests)  # bounded by the count, not the clock
                served = numbers["requests"] + 20  # the client's 20 warm-up requests hit the server too
                numbers["cpu_us"] = (server_cpu_seconds(proc.pid) - cpu0) / served * 1e6
                found[side].append(numbers)
    finally:
        for proc, port in procs.values():
            stop(proc)
            log_file(port).unlink(missing_ok=True)
    return found


def print_logging_ab(found: dict[str, list[dict[str, float]]], requests: int) -> None:
    """The B - A differences of each round: median, and the spread (min..max, and the interquartile range)."""
    import statistics

    rounds = len(found["A"])
    print(f"\nInference logging over HTTP, interleaved A/B: A = serve, B = serve --log-requests, running side by side; "
          f"{rounds} rounds x {requests} sequential 1-row requests per side, order flipped every round; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'measure':<28}{'A (median)':>12}{'B (median)':>12}{'B-A median':>12}{'B-A min..max':>22}{'B-A IQR':>20}")
    for key, label, unit in (("p50_ms", "wall p50", "ms"), ("p99_ms", "wall p99", "ms"),
                             ("cpu_us", "server CPU per request", "us")):  # fmt: skip
        a = [r[key] for r in found["A"]]
        b = [r[key] for r in found["B"]]
        diff = sorted(y - x for x, y in zip(a, b, strict=True))
        q = statistics.quantiles(diff, n=4) if len(diff) >= 2 else [diff[0]] * 3
        print(f"{label + ' (' + unit + ')':<28}{statistics.median(a):>12.3f}{statistics.median(b):>12.3f}"
              f"{statistics.median(diff):>+12.3f}{f'{diff[0]:+.3f}..{diff[-1]:+.3f}':>22}{f'{q[0]:+.3f}..{q[2]:+.3f}':>20}")
    p99 = statistics.median(y["p99_ms"] - x["p99_ms"] for x, y in zip(found["A"], found["B"], strict=True))
    print(f"p99 grows by {p99:+.3f} ms (median of the rounds' differences); target <= +{TARGETS['logging_p99_ms']} ms")


# ---- the comparison ---------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per scenario (default 2000)")
    parser.add_argument("--seconds", type=float, default=10, help="time limit per scenario (default 10)")
    parser.add_argument("--workers", type=int, default=1, help="jupyter-lifecycle serve --workers (default 1)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per scenario, best kept (default 2)")
    parser.add_argument("--overhead-only", action="store_true",
                        help="only measure what --log-requests adds to ScoringApp.respond (no HTTP, no MLflow)")
    parser.add_argument("--logging-only", action="store_true",
                        help="only measure what --log-requests costs: in process, then over HTTP in interleaved A/B rounds")
    parser.add_argument("--ab-rounds", type=int, default=10, help="A/B rounds for the logging cost over HTTP (default 10)")
    parser.add_argument("--client", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--overhead", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        port, body, clients, requests, seconds = args.client
        client_main(int(port), body, int(clients), int(requests), float(seconds))
        return
    if args.overhead:
        model_path, body, requests, mode, home = args.overhead
        overhead_main(model_path, body, int(requests), mode == "on", home)
        return

    folder = Path(tempfile.mkdtemp(prefix="bench_serving_"))
    env = {**os.environ, "JUPYTER_LIFECYCLE_HOME": str(folder / "store"), "PYTHONWARNINGS": "ignore"}
    model, columns = make_model(folder)
    bodies = {rows: payload(folder, columns, rows) for rows in (1, 1000)}
    scenarios = [(rows, clients) for rows in (1, 1000) for clients in (1, 4)]
    cost = overhead(model, bodies, args.requests, max(3, args.rounds), folder)
    print(f"\nInference logging, in process (ScoringApp.respond for /invocations, no HTTP), {args.requests} calls, "
          f"median of {max(3, args.rounds)} rounds, both modes running at once; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for rows in bodies:
        off, on = cost[f"{rows}/off"], cost[f"{rows}/on"]
        print(f"  {rows:>4} row{'s' if rows > 1 else ' '}: p50 {off['p50_ms']:6.3f} -> {on['p50_ms']:6.3f} ms, "
              f"p99 {off['p99_ms']:6.3f} -> {on['p99_ms']:6.3f} ms ({on['p99_ms'] - off['p99_ms']:+.3f} ms; "
              f"target <= +{TARGETS['logging_p99_ms']} ms)")
        print(f"             CPU per request: serving thread {off['thread_cpu_us']:7.1f} -> {on['thread_cpu_us']:7.1f} us "
              f"({on['thread_cpu_us'] - off['thread_cpu_us']:+.1f} us), whole process {off['process_cpu_us']:7.1f} -> "
              f"{on['process_cpu_us']:7.1f} us ({on['process_cpu_us'] - off['process_cpu_us']:+.1f} us, the writer's "
              "work included)")
    if args.overhead_only:
        shutil.rmtree(folder, ignore_errors=True)
        return
    ab = logging_ab(model, bodies[1], args.requests, args.ab_rounds, args.workers, env)
    print_logging_ab(ab, args.requests)
    if args.logging_only:
        shutil.rmtree(folder, ignore_errors=True)
        return

    servers: dict[str, list[str]] = {}
    ours = [sys.executable, "-m", "jupyter_lifecycle.cli", "serve", str(model), "--workers", str(args.workers)]
    servers[OURS] = ours
    servers[LOGGING] = [*ours, "--log-requests"]
    if MLFLOW.exists():
        servers["mlflow"] = [str(MLFLOW), "models", "serve", "-m", str(model), "--env-manager", "local", "--host", "127.0.0.1"]
    else:
        print(f"({MLFLOW} missing: run `make mlflow-venv` to compare with MLflow)")

    # Both servers run side by side; each scenario alternates between them for
    # --rounds rounds and keeps each server's best round, so a burst of load
    # from elsewhere on the machine does not decide the ratio.
    results: dict[str, dict[str, object]] = {}
    procs: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    try:
        for name, command in servers.items():
            port = free_port()
            # mlflow starts `uvicorn` by name: its venv's bin/ must come first on PATH.
            path_env = {**env, "PATH": f"{Path(command[0]).parent}{os.pathsep}{env.get('PATH', '')}"}
            proc, ready = start([*command, "--port", str(port)], port, path_env)
            procs[name] = (proc, port)
            results[name] = {"ready_s": ready}
        for rows, clients in scenarios:
            key = f"{rows}x{clients}"
            for _ in range(args.rounds):
                for name, (_, port) in procs.items():
                    numbers = load(port, bodies[rows], clients, args.requests, args.seconds)
                    best = results[name].get(key)
                    if best is None or numbers["rps"] > best["rps"]:  # type: ignore[index]
                        results[name][key] = numbers
    finally:
        for proc, port in procs.values():
            stop(proc)
            log_file(port).unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)

    print(f"\nScoring server, {args.requests} requests or {args.seconds:.0f} s per scenario and round, best of "
          f"{args.rounds} rounds, 127.0.0.1, keep-alive; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"reference: {MLFLOW_REFERENCE}\n")
    header = f"{'scenario':<26}" + "".join(f"{n:>34}" for n in results) + (f"{'ratio':>9}" if "mlflow" in results else "")
    print(header)
    print("-" * len(header))
    ours_r, theirs = results.get(OURS, {}), results.get("mlflow")
    print(f"{'ready (start -> /ping)':<26}" + "".join(f"{r['ready_s']:>32.2f} s" for r in results.values())  # type: ignore[index]
          + (f"{theirs['ready_s'] / ours_r['ready_s']:>8.1f}x" if theirs else ""))  # type: ignore[operator]  # fmt: skip
    for rows, clients in scenarios:
        key = f"{rows}x{clients}"
        label = f"{rows} row{'s' if rows > 1 else ''}, {'sequential' if clients == 1 else f'{clients} clients'}"
        cells = "".join(f"{r[key]['rps']:>9.0f} req/s p50 {r[key]['p50_ms']:5.1f} p99 {r[key]['p99_ms']:5.1f} ms"  # type: ignore[index]
                        for r in results.values())  # fmt: skip
        ratio = f"{ours_r[key]['rps'] / theirs[key]['rps']:>8.1f}x" if theirs else ""  # type: ignore[index]
        print(f"{label:<26}{cells}{ratio}")
    logged = results[LOGGING]
    print("\ninference logging (--log-requests) adds to p99: " + ", ".join(
        f"{key} {logged[key]['p99_ms'] - ours_r[key]['p99_ms']:+.2f} ms"  # type: ignore[index]
        for key in (f"{rows}x{clients}" for rows, clients in scenarios)) + f" (target <= {TARGETS['logging_p99_ms']} ms)")
    seq = ours_r["1x1"]  # type: ignore[index]
    print(f"\ntargets: >= {TARGETS['ratio']:.0f}x MLflow req/s (sequential and 4 clients), p99 <= "
          f"{TARGETS['p99_sequential_ms']:.0f} ms sequential (1 row: {seq['p99_ms']:.1f} ms), "  # type: ignore[index]
          f"ready < {TARGETS['ready_s']:.0f} s ({ours_r['ready_s']:.2f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
