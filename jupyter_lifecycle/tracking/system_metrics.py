"""System metrics: CPU, memory, disk, network and GPU use sampled while a run is active.

``start_run(log_system_metrics=True)`` (or ``enable_system_metrics_logging()``
for every run) starts a ``SystemMetricsMonitor``: a daemon thread that samples
with psutil every ``sampling_interval`` seconds (10 by default, as MLflow),
averages ``samples_before_logging`` samples, and logs them as ``system/*``
metrics with MLflow's names and a step that counts from 0. GPUs are read
through pynvml when it is installed, else through ``nvidia-smi`` when it is on
``PATH``; without either there are no ``system/gpu_*`` metrics.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from typing import Any

from ..errors import InvalidInput

PREFIX = "system/"
ENABLE_ENV = "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING"
INTERVAL_ENV = "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL"
SAMPLES_ENV = "MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING"
DEFAULT_INTERVAL = 10.0

# Process-wide settings, as MLflow's enable_system_metrics_logging() and friends set them.
_settings: dict[str, Any] = {"enabled": None, "interval": None, "samples": None}


def enable_system_metrics_logging() -> None:
    """Log system metrics for every run started from now on (until ``disable_system_metrics_logging``)."""
    _settings["enabled"] = True


def disable_system_metrics_logging() -> None:
    """Stop logging system metrics for runs started from now on (``log_system_metrics=True`` still does)."""
    _settings["enabled"] = False


def set_system_metrics_sampling_interval(interval: float | None) -> None:
    """Seconds between two samples for runs started from now on (``None``: back to 10 s or the env var)."""
    if interval is not None and not (isinstance(interval, (int, float)) and 0 < interval < float("inf")):
        raise InvalidInput(f"the sampling interval must be a positive number of seconds, not {interval!r}")
    _settings["interval"] = None if interval is None else float(interval)


def set_system_metrics_samples_before_logging(samples: int | None) -> None:
    """How many samples are averaged into one logged point (``None``: back to 1 or the env var)."""
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int) or samples < 1):
        raise InvalidInput(f"samples_before_logging must be a whole number >= 1, not {samples!r}")
    _settings["samples"] = samples


def wanted(log_system_metrics: bool | None) -> bool:
    """Whether a new run logs system metrics: the argument, else the setting, else ``$MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING``."""
    if log_system_metrics is not None:
        if not isinstance(log_system_metrics, bool):
            raise InvalidInput(f"log_system_metrics must be True, False or None, not {log_system_metrics!r}")
        return log_system_metrics
    if _settings["enabled"] is not None:
        return bool(_settings["enabled"])
    return os.environ.get(ENABLE_ENV, "").strip().lower() in ("1", "true", "yes")


def _env_number(name: str, kind: Callable[[str], Any]) -> Any:
    text = os.environ.get(name)
    if not text:
        return None
    try:
        value = kind(text)
    except ValueError:
        raise InvalidInput(f"${name}={text!r} is not a number") from None
    if value <= 0:
        raise InvalidInput(f"${name}={text!r} must be positive")
    return value


class SystemMetricsMonitor:
    """A daemon thread logging ``system/*`` metrics of this machine to one run until ``stop()``."""

    def __init__(
        self,
        log: Callable[[dict[str, float], int], None],
        sampling_interval: float | None = None,
        samples_before_logging: int | None = None,
    ) -> None:
        self._log = log
        self.sampling_interval = float(
            sampling_interval or _settings["interval"] or _env_number(INTERVAL_ENV, float) or DEFAULT_INTERVAL
        )
        self.samples_before_logging = int(
            samples_before_logging or _settings["samples"] or _env_number(SAMPLES_ENV, int) or 1
        )
        self.step = 0
        self.errors = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="jupyter-lifecycle-system-metrics", daemon=True)
        self._gpu = _gpu_reader()
        self._network_start = _network_totals()

    def start(self) -> SystemMetricsMonitor:
        """Start sampling in the background; return ``self``."""
        import psutil

        psutil.cpu_percent(interval=None)  # the first call only sets the baseline of the next one
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sampling (a partial batch of samples is dropped, as MLflow does) and wait for the thread."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=max(5.0, self.sampling_interval))

    def _loop(self) -> None:
        while not self._stop.is_set():
            samples = []
            for _ in range(self.samples_before_logging):
                if self._stop.wait(self.sampling_interval):
                    return
                samples.append(self.sample())
            keys = {key for sample in samples for key in sample}
            averaged = {
                PREFIX + key: sum(s[key] for s in samples if key in s) / sum(1 for s in samples if key in s)
                for key in sorted(keys)
            }
            try:
                self._log(averaged, self.step)
            except Exception as exc:  # a full disk or a deleted run must not kill the thread silently
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
            self.step += 1

    def sample(self) -> dict[str, float]:
        """One sample of every metric this machine can give, with MLflow's names (without ``system/``)."""
        import psutil

        memory = psutil.virtual_memory()
        disk = psutil.disk_usage(os.path.abspath(os.sep))
        values = {
            "cpu_utilization_percentage": float(psutil.cpu_percent(interval=None)),
            "system_memory_usage_megabytes": memory.used / 1e6,
            "system_memory_usage_percentage": memory.used / memory.total * 100,
            "disk_usage_percentage": float(disk.percent),
            "disk_usage_megabytes": disk.used / 1e6,
            "disk_available_megabytes": disk.free / 1e6,
        }
        received, sent = _network_totals()
        values["network_receive_megabytes"] = (received - self._network_start[0]) / 1e6
        values["network_transmit_megabytes"] = (sent - self._network_start[1]) / 1e6
        if self._gpu is not None:
            try:
                values.update(self._gpu())
            except Exception as exc:  # a GPU that went away: keep the other metrics
                self.last_error = f"GPU: {type(exc).__name__}: {exc}"
        return values


def _network_totals() -> tuple[int, int]:
    import psutil

    counters = psutil.net_io_counters()
    return (counters.bytes_recv, counters.bytes_sent) if counters else (0, 0)


def _gpu_reader() -> Callable[[], dict[str, float]] | None:
    """A function reading every GPU's use, through pynvml or ``nvidia-smi``; ``None`` without a GPU."""
    try:
        import pynvml

        pynvml.nvmlInit()
        count = pynvml.nvmlDeviceGetCount()
    except Exception:  # not installed, no driver, no device
        count = 0
    if count:
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]

        def read_nvml() -> dict[str, float]:
            out: dict[str, float] = {}
            for i, handle in enumerate(handles):
                memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
                out[f"gpu_{i}_memory_usage_percentage"] = memory.used / memory.total * 100
                out[f"gpu_{i}_memory_usage_megabytes"] = memory.used / 1e6
                out[f"gpu_{i}_utilization_percentage"] = float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            return out

        return read_nvml
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None

    def read_smi() -> dict[str, float]:
        return parse_nvidia_smi(subprocess.run(
            [smi, "--query-gpu=utilization.gpu,memory.used,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10, check=True).stdout)  # fmt: skip

    try:
        if not read_smi():
            return None
    except (OSError, subprocess.SubprocessError, ValueError):  # nvidia-smi without a working driver
        return None
    return read_smi


def parse_nvidia_smi(text: str) -> dict[str, float]:
    """``system/gpu_*`` values (without the prefix) from ``nvidia-smi --query-gpu=utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits``."""
    out: dict[str, float] = {}
    for i, line in enumerate(row for row in text.splitlines() if row.strip()):
        utilization, used_mib, total_mib = (float(part) for part in line.split(","))
        out[f"gpu_{i}_utilization_percentage"] = utilization
        out[f"gpu_{i}_memory_usage_megabytes"] = used_mib * 2**20 / 1e6
        out[f"gpu_{i}_memory_usage_percentage"] = used_mib / total_mib * 100 if total_mib else 0.0
    return out
