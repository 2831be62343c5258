"""The inline display of ``EvaluationResult``: its metrics table (baseline beside it) and its plots."""

from __future__ import annotations

import base64

from ..models.evaluation import EvaluationResult
from .display import _e, html_table, register_repr


def evaluation_html(result: EvaluationResult) -> str:
    """Metrics (with the baseline's and the difference when there is one), then each PNG plot."""
    base = result.baseline_metrics or {}
    if base:
        rows = [(k, v, base.get(k), v - base[k] if k in base else None) for k, v in sorted(result.metrics.items())]
        table = html_table(["metric", "candidate", "baseline", "difference"], rows, caption="Evaluation metrics")
    else:
        table = html_table(["metric", "value"], sorted(result.metrics.items()), caption="Evaluation metrics")
    images = []
    for name, artifact in result.artifacts.items():
        if artifact.path.suffix == ".png" and artifact.path.is_file():
            data = base64.b64encode(artifact.path.read_bytes()).decode()
            images.append(f'<figure style="display:inline-block;margin:4px"><img width="360" alt="{_e(name)}" '
                          f'src="data:image/png;base64,{data}"><figcaption>{_e(name)}</figcaption></figure>')  # fmt: skip
    run = f"<div>run {_e(result.run_id)}" + (f", model {_e(result.model_id)}" if result.model_id else "") + "</div>"
    return f'<div class="jl-evaluation">{run}{table}<div>{"".join(images)}</div></div>'


register_repr(EvaluationResult, evaluation_html)
