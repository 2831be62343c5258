"""System metrics: ``system/*`` metrics sampled by a background thread while a run is active."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle.tracking import system_metrics

MLFLOW_NAMES = {
    "system/cpu_utilization_percentage", "system/system_memory_usage_megabytes", "system/system_memory_usage_percentage",
    "system/disk_usage_percentage", "system/disk_usage_megabytes", "system/disk_available_megabytes",
    "system/network_receive_megabytes", "system/network_transmit_megabytes",
}  # fmt: skip


@pytest.fixture(autouse=True)
def fast_sampling() -> Iterator[None]:
    lc.set_system_metrics_sampling_interval(0.1)
    yield
    lc.set_system_metrics_sampling_interval(None)
    system_metrics._settings["enabled"] = None


def monitor_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "jupyter-lifecycle-system-metrics"]


def test_a_run_with_log_system_metrics_gets_mlflows_system_metrics_until_it_ends(home: Path) -> None:
    with lc.start_run(log_system_metrics=True) as run:
        time.sleep(0.65)
    data = lc.get_run(run.info.run_id).data.metrics
    assert MLFLOW_NAMES <= set(data), set(data)
    assert 0 <= data["system/cpu_utilization_percentage"] <= 100 * os.cpu_count()
    assert 0 < data["system/system_memory_usage_percentage"] < 100
    assert data["system/disk_available_megabytes"] > 0
    history = lc.Client().get_metric_history(run.info.run_id, "system/cpu_utilization_percentage")
    assert [m.step for m in history] == list(range(len(history))) and len(history) >= 3
    assert not monitor_threads()  # end_run stopped the thread...
    time.sleep(0.3)
    later = lc.Client().get_metric_history(run.info.run_id, "system/cpu_utilization_percentage")
    assert len(later) == len(history)  # ...and nothing is logged after the run ended


def test_off_by_default_on_by_setting_or_environment(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def system_keys() -> set[str]:
        with lc.start_run() as run:
            time.sleep(0.35)
        return {k for k in lc.get_run(run.info.run_id).data.metrics if k.startswith("system/")}

    assert system_keys() == set()
    monkeypatch.setenv("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", "true")
    assert MLFLOW_NAMES <= system_keys()
    lc.disable_system_metrics_logging()  # the call wins over the environment
    assert system_keys() == set()
    monkeypatch.delenv("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING")
    lc.enable_system_metrics_logging()
    assert MLFLOW_NAMES <= system_keys()
    with lc.start_run(log_system_metrics=False) as run:  # the argument wins over the setting
        time.sleep(0.3)
    assert not any(k.startswith("system/") for k in lc.get_run(run.info.run_id).data.metrics)


def test_samples_before_logging_averages_into_fewer_points(home: Path) -> None:
    lc.set_system_metrics_samples_before_logging(3)
    try:
        with lc.start_run(log_system_metrics=True) as run:
            time.sleep(1.0)
    finally:
        lc.set_system_metrics_samples_before_logging(None)
    history = lc.Client().get_metric_history(run.info.run_id, "system/disk_usage_percentage")
    assert len(history) >= 2
    # One point per 3 samples 0.1 s apart: points at least ~0.3 s apart (0.1 s apart if samples were not grouped).
    gaps = [b.timestamp - a.timestamp for a, b in zip(history, history[1:], strict=False)]
    assert min(gaps) >= 250, gaps


def test_bad_settings_are_refused(home: Path) -> None:
    with pytest.raises(lc.InvalidInput, match="log_system_metrics must be True, False or None"):
        lc.start_run(log_system_metrics="yes")  # type: ignore[arg-type]
    assert lc.active_run() is None  # nothing was started
    for bad in (0, -1, float("nan"), "10"):
        with pytest.raises(lc.InvalidInput, match="sampling interval"):
            lc.set_system_metrics_sampling_interval(bad)  # type: ignore[arg-type]
    with pytest.raises(lc.InvalidInput, match="samples_before_logging"):
        lc.set_system_metrics_samples_before_logging(0)


def test_gpus_are_read_through_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No GPU here: a stand-in nvidia-smi on PATH answers the query the monitor runs, in its CSV format.
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\ncase \"$*\" in *utilization.gpu,memory.used,memory.total*csv,noheader,nounits*) "
                    "printf '37, 1024, 16384\\n5, 0, 8192\\n';; *) exit 2;; esac\n")  # fmt: skip
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    sample = system_metrics.SystemMetricsMonitor(lambda values, step: None).sample()
    assert sample["gpu_0_utilization_percentage"] == 37.0
    assert sample["gpu_0_memory_usage_megabytes"] == pytest.approx(1024 * 2**20 / 1e6)
    assert sample["gpu_0_memory_usage_percentage"] == pytest.approx(6.25)
    assert sample["gpu_1_utilization_percentage"] == 5.0


def test_no_gpu_metrics_without_a_gpu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi; pynvml is not installed here
    sample = system_metrics.SystemMetricsMonitor(lambda values, step: None).sample()
    assert not any(k.startswith("gpu_") for k in sample)
