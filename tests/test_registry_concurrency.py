"""Two processes registering versions of one model into one store file at the same moment."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import jupyter_lifecycle as lc
from jupyter_lifecycle import config

WORKER = """
import sys, time
from pathlib import Path
import jupyter_lifecycle as lc

tag, uri, go, count = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
lc.Client().search_registered_models()  # open the store before the start signal
while not go.exists():
    time.sleep(0.001)
for _ in range(count):
    mv = lc.register_model(uri, "shared", tags={"writer": tag})
    print(mv.version, flush=True)
"""

PER_PROCESS = 12


def test_concurrent_registration_gets_distinct_numbers(home: Path, tmp_path: Path) -> None:
    uris = []
    for weights in ("from-a", "from-b"):
        with lc.start_run() as run:
            lc.log_text("flavors: {}\n", "model/MLmodel")
            lc.log_text(weights, "model/weights.txt")
        uris.append(f"runs:/{run.info.run_id}/model")
    go = tmp_path / "go"
    env = {**__import__("os").environ, config.HOME_ENV: str(home)}
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, tag, uri, str(go), str(PER_PROCESS)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
        for tag, uri in (("a", uris[0]), ("b", uris[1]))
    ]
    time.sleep(0.5)  # both workers have imported and opened the store (not a timing assertion)
    go.touch()
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    numbers = [[int(line) for line in out.split()] for out, _ in outputs]
    assert sorted(numbers[0] + numbers[1]) == list(range(1, 2 * PER_PROCESS + 1))
    assert all(n == sorted(n) for n in numbers)  # each process sees its numbers grow

    client = lc.Client()
    versions = client.search_model_versions("name = 'shared'")
    assert len(versions) == 2 * PER_PROCESS
    for mv in versions:
        # Each number holds the files of the process that got it.
        expected = "from-a" if mv.tags["writer"] == "a" else "from-b"
        assert (Path(mv.storage_location) / "weights.txt").read_text() == expected
        assert mv.version in numbers[0 if mv.tags["writer"] == "a" else 1]
    created = [a for a in client.list_activity("shared") if a.activity_type == "CREATED_MODEL"]
    assert len(created) == 1  # the race to create the model had one winner, the other reused it
    leftovers = [p for p in (home / "registry").rglob(".tmp-*")]
    assert leftovers == []
