"""The approve task of a deployment job: open a transition request and wait for someone's decision."""

from __future__ import annotations

import os
import time

from ..entities import TransitionRequest
from ..errors import InvalidState, NotFound
from ..store.registry import canonical_stage
from .deployment import RUN_ENV


def wait_for_approval(
    model_name: str,
    version: int | str,
    stage: str = "Production",
    comment: str | None = None,
    poll_seconds: float = 1.0,
    timeout: float | None = None,
) -> TransitionRequest:
    """Open a transition request to ``stage`` (or reuse the pending one) and wait for a decision.

    Returns the approved request; raises ``InvalidState`` naming who rejected
    (or cancelled) it and why. Inside a deployment job the run is in
    ``APPROVAL`` state meanwhile.
    """
    from .fluent import registry_client

    client = registry_client()
    target = canonical_stage(stage)
    number = int(version)
    pending = [r for r in client.list_transition_requests(model_name, number) if r.to_stage == target]
    run_id = os.environ.get(RUN_ENV)
    request = pending[0] if pending else client.create_transition_request(
        model_name, number, target, comment or (f"deployment job run {run_id}" if run_id else "approval requested"))  # fmt: skip
    store = client.store
    if run_id:
        store.deployment.set_run_status(run_id, "APPROVAL", f"waiting for request {request.request_id} -> {target}")
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        found = [r for r in client.list_transition_requests(model_name, number, include_resolved=True)
                 if r.request_id == request.request_id]  # fmt: skip
        if not found:
            raise NotFound(f"the transition request {request.request_id} disappeared (was version {number} deleted?)")
        decided = found[0]
        if decided.status == "APPROVED":
            if run_id:
                store.deployment.set_run_status(run_id, "RUNNING", f"approved by {decided.resolved_by}")
            return decided
        if decided.status != "PENDING":
            why = f": {decided.resolution_comment}" if decided.resolution_comment else ""
            raise InvalidState(f"{model_name!r} version {number} was not approved: the request to move it to {target} "
                               f"was {decided.status.lower()} by {decided.resolved_by}{why}")  # fmt: skip
        if not store.db_path.exists():  # the store was deleted under a waiting job: nobody can decide any more
            raise NotFound(f"the store {store.db_path} is gone; stopped waiting for {model_name!r} version {number}")
        if deadline is not None and time.monotonic() > deadline:
            raise InvalidState(f"no decision on {model_name!r} version {number} -> {target} within {timeout:g} s")
        time.sleep(poll_seconds)
