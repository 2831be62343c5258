"""Push GenAI traces (spans and assessments) to an MLflow tracking server, the way MLflow's own client logs them.

MLflow 3's client (``TracingClient``) ends a trace with ``StartTraceV3``
(``POST /api/3.0/mlflow/traces``, the trace info with its assessments), then
uploads the spans as ``traces.json`` under the artifact location the server
returns in the tag ``mlflow.artifactLocation``; ``MlflowClient.get_trace``
reads them back from there. A trace keeps its id on the server (``tr-...``),
so a push cut off between the two steps finds it again with
``GetTraceInfoV3`` and uploads the spans once more. Tags and assessments
added locally after a push are sent as the difference (trace tags through
``/api/2.0/mlflow/traces/<id>/tags``, assessments through ``CreateAssessment``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from ..errors import NotFound

Pusher = Any  # push.Pusher, which imports this module: named here only to read the signatures

ARTIFACT_LOCATION = "mlflow.artifactLocation"  # set by the server on each trace: where traces.json goes
TRACE_DATA_FILE = "traces.json"  # mlflow/tracing/utils/artifact_utils.py: TRACE_DATA_FILE_NAME
SOURCE_RUN = "mlflow.sourceRun"
MODEL_ID = "mlflow.modelId"


def _timestamp(ms: int) -> str:
    """Epoch ms as protobuf's JSON ``Timestamp`` (RFC 3339, UTC)."""
    when = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _remote_metadata(pusher: Pusher, metadata: dict[str, str]) -> dict[str, str]:
    """The trace's metadata with its run and logged model named by their remote ids (dropped when not pushed)."""
    out = dict(metadata)
    for key, kind in ((SOURCE_RUN, "run"), (MODEL_ID, "logged_model")):
        if key in out:
            known = pusher.store.sync.get(pusher.remote, kind, out[key])
            if known:
                out[key] = known[0]
            else:  # a local id would name nothing (or something else) on the server
                del out[key]
    return out


def _trace_info(pusher: Pusher, info: dict[str, Any], remote_experiment: str) -> dict[str, Any]:
    """MLflow's ``TraceInfoV3`` in protobuf JSON, as ``StartTraceV3`` takes it."""
    body: dict[str, Any] = {
        "trace_id": info["trace_id"],
        "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": remote_experiment}},
        "request_time": _timestamp(int(info["request_time"])),
        "state": info["state"],
        "trace_metadata": _remote_metadata(pusher, info["trace_metadata"]),
        "tags": {k: v for k, v in info["tags"].items() if k != ARTIFACT_LOCATION},
        "assessments": info["assessments"],
    }
    if info["execution_duration"] is not None:
        body["execution_duration"] = f"{int(info['execution_duration']) / 1000:.3f}s"
    for key in ("request_preview", "response_preview", "client_request_id"):
        if info[key] is not None:
            body[key] = info[key]
    return body


def push_traces(pusher: Pusher, experiment_ids: Sequence[str]) -> None:
    """Push the finished traces of these local experiments (those not pushed are skipped, see ``_push_trace``)."""
    for trace_id in pusher.store.sync.trace_ids(experiment_ids, pusher.since):
        pusher._guard(f"trace {trace_id}", lambda t=trace_id: _push_trace(pusher, t))  # type: ignore[misc]


def _push_trace(pusher: Pusher, trace_id: str) -> None:
    info, spans = pusher.store.traces.get(trace_id)
    data = '{"spans": ' + spans + "}"  # TraceData.to_dict(): the stored spans' JSON array as it is
    tags = {k: v for k, v in info["tags"].items() if k != ARTIFACT_LOCATION}
    assessment_ids = [a["assessment_id"] for a in info["assessments"]]
    digest = hashlib.sha256(data.encode()).hexdigest()[:32]
    known = pusher.store.sync.get(pusher.remote, "trace", trace_id)
    if known and known[1].get("spans") == digest and known[1].get("tags") == tags \
            and known[1].get("assessments") == assessment_ids:  # fmt: skip
        pusher.report.count("unchanged", "trace")
        return
    if pusher.dry_run:
        pusher.report.count("updated" if known else "created", "trace", label=trace_id)
        return
    remote_experiment = pusher.experiment_ids.get(info["experiment_id"])
    if remote_experiment is None:
        return  # its experiment was not pushed (conflict or error already reported)
    if known:
        _update_trace(pusher, trace_id, info, data, digest, tags, assessment_ids, known[1])
        return
    try:  # created by a push that stopped before recording it?
        remote = pusher.rest.call("GET", f"traces/{trace_id}", api="3.0")["trace"]["trace_info"]
        if remote.get("trace_location", {}).get("mlflow_experiment", {}).get("experiment_id") != remote_experiment:
            pusher.report.conflict(f"trace {trace_id} is already on the server in another experiment; not pushed")
            return
    except NotFound:
        body = {"trace": {"trace_info": _trace_info(pusher, info, remote_experiment), "data": {}}}
        remote = pusher.rest.call("POST", "traces", body, api="3.0")["trace"]["trace_info"]
    pusher.rest.upload_bytes(remote["tags"][ARTIFACT_LOCATION], TRACE_DATA_FILE, data.encode())
    state = {"spans": digest, "tags": tags, "assessments": assessment_ids,
             "artifact_location": remote["tags"][ARTIFACT_LOCATION]}  # fmt: skip
    pusher.store.sync.put(pusher.remote, "trace", trace_id, trace_id, state)
    pusher.report.count("created", "trace")


def _update_trace(pusher: Pusher, trace_id: str, info: dict[str, Any], data: str, digest: str,
                  tags: dict[str, str], assessment_ids: list[str], state: dict[str, Any]) -> None:  # fmt: skip
    """Send what changed since the last push: tags, new assessments, spans (a span that ended after its root)."""
    try:
        pusher.rest.call("GET", f"traces/{trace_id}", api="3.0")
    except NotFound:
        pusher.report.conflict(f"trace {trace_id} was deleted on the server; not pushed again")
        return
    for key, value in tags.items():
        if state["tags"].get(key) != value:
            pusher.rest.call("PATCH", f"traces/{trace_id}/tags", {"key": key, "value": value})
    for key in state["tags"]:
        if key not in tags:
            try:
                pusher.rest.call("DELETE", f"traces/{trace_id}/tags", {"key": key})
            except NotFound:
                pass
    sent = set(state["assessments"])
    for assessment in info["assessments"]:
        if assessment["assessment_id"] not in sent:
            pusher.rest.call("POST", f"traces/{trace_id}/assessments", {"assessment": assessment}, api="3.0")
    if state["spans"] != digest:
        pusher.rest.upload_bytes(state["artifact_location"], TRACE_DATA_FILE, data.encode())
    state = {**state, "spans": digest, "tags": tags, "assessments": assessment_ids}
    pusher.store.sync.put(pusher.remote, "trace", trace_id, trace_id, state)
    pusher.report.count("updated", "trace")
