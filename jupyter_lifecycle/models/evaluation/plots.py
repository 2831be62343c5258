"""The evaluation plots as PNG, with MLflow's artifact names, drawn from Vega-Lite specs by vl-convert.

vl-convert is a core dependency and needs no display or UI library, so the
plots render in scripts, workers and the scoring server alike.
"""

from __future__ import annotations

from typing import Any

MAX_POINTS = 500
"""Points kept per curve: enough for a smooth line, small enough to render fast."""

_SIZE = {"width": 360, "height": 300}


def png(spec: dict[str, Any]) -> bytes:
    """A Vega-Lite spec rendered as PNG bytes."""
    import vl_convert

    return bytes(vl_convert.vegalite_to_png({"$schema": "https://vega.github.io/schema/vega-lite/v5.json",
                                             **_SIZE, **spec}, scale=2))  # fmt: skip


def _thin(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    step = max(1, len(rows) // MAX_POINTS)
    return rows[::step] + ([rows[-1]] if len(rows) % step != 1 and step > 1 else [])


def _curve(rows: list[dict[str, Any]], x: str, y: str, title: str) -> dict[str, Any]:
    return {"title": title, "data": {"values": rows}, "mark": {"type": "line", "interpolate": "step-after"},
            "encoding": {"x": {"field": "x", "type": "quantitative", "title": x, "scale": {"domain": [0, 1]}},
                         "y": {"field": "y", "type": "quantitative", "title": y, "scale": {"domain": [0, 1]}},
                         "color": {"field": "curve", "type": "nominal", "title": None}}}  # fmt: skip


def confusion_matrix(y_true: Any, y_pred: Any, labels: list[Any]) -> dict[str, Any]:
    """The normalized confusion matrix (rows: true label), as MLflow and sklearn autologging draw it."""
    from sklearn.metrics import confusion_matrix as cm

    matrix = cm(y_true, y_pred, labels=labels, normalize="true")
    rows = [{"true": str(t), "predicted": str(p), "value": round(float(matrix[i, j]), 3)}
            for i, t in enumerate(labels) for j, p in enumerate(labels)]  # fmt: skip
    order = [str(label) for label in labels]
    base = {"x": {"field": "predicted", "type": "ordinal", "sort": order, "title": "Predicted label"},
            "y": {"field": "true", "type": "ordinal", "sort": order, "title": "True label"}}  # fmt: skip
    return {"title": "Normalized confusion matrix", "data": {"values": rows}, "layer": [
        {"mark": "rect", "encoding": {**base, "color": {"field": "value", "type": "quantitative",
                                                        "scale": {"domain": [0, 1]}}}},  # fmt: skip
        {"mark": {"type": "text"}, "encoding": {**base, "text": {"field": "value", "type": "quantitative"}}},
    ]}


def roc_curve(y_true: Any, scores: dict[str, Any], positives: dict[str, Any]) -> dict[str, Any]:
    """One ROC curve per entry of ``scores`` (the positive class's probability), AUC in the legend."""
    import numpy as np
    from sklearn.metrics import roc_auc_score
    from sklearn.metrics import roc_curve as roc

    rows: list[dict[str, Any]] = []
    for label, score in scores.items():
        truth = np.asarray(y_true) == positives[label]
        fpr, tpr, _ = roc(truth, score)
        name = f"{label} AUC={roc_auc_score(truth, score):.3f}"
        rows += _thin([{"x": float(a), "y": float(b), "curve": name} for a, b in zip(fpr, tpr, strict=True)])
    return _curve(rows, "False Positive Rate", "True Positive Rate", "ROC curve")


def precision_recall_curve(y_true: Any, scores: dict[str, Any], positives: dict[str, Any]) -> dict[str, Any]:
    """One precision-recall curve per entry of ``scores``, average precision in the legend."""
    import numpy as np
    from sklearn.metrics import average_precision_score
    from sklearn.metrics import precision_recall_curve as prc

    rows: list[dict[str, Any]] = []
    for label, score in scores.items():
        truth = np.asarray(y_true) == positives[label]
        precision, recall, _ = prc(truth, score)
        name = f"{label} AP={average_precision_score(truth, score):.3f}"
        rows += _thin([{"x": float(r), "y": float(p), "curve": name} for r, p in zip(recall, precision, strict=True)])
    return _curve(rows, "Recall", "Precision", "Precision recall curve")


def calibration_curve(y_true: Any, scores: dict[str, Any], positives: dict[str, Any], bins: int = 10) -> dict[str, Any]:
    """Fraction of positives against mean predicted probability, per bin and class, beside the diagonal."""
    import numpy as np
    from sklearn.calibration import calibration_curve as cal

    rows = [{"x": 0.0, "y": 0.0, "curve": "perfectly calibrated"}, {"x": 1.0, "y": 1.0, "curve": "perfectly calibrated"}]
    for label, score in scores.items():
        frac, mean = cal(np.asarray(y_true) == positives[label], score, n_bins=bins)
        rows += [{"x": float(m), "y": float(f), "curve": label} for m, f in zip(mean, frac, strict=True)]
    spec = _curve(rows, "Mean predicted probability", "Fraction of positives", "Calibration curve")
    spec["mark"] = {"type": "line", "point": True}
    return spec


def lift_curve(y_true: Any, positive_score: Any, pos_label: Any) -> dict[str, Any]:
    """Lift (positive rate among the top-scored fraction over the overall rate) against that fraction."""
    import numpy as np

    truth = (np.asarray(y_true) == pos_label)[np.argsort(-np.asarray(positive_score), kind="stable")]
    overall = truth.mean() if len(truth) else 0.0
    counts = np.arange(1, len(truth) + 1)
    lift = np.cumsum(truth) / counts / overall if overall else np.zeros(len(truth))
    rows = _thin([{"x": float(c / len(truth)), "y": float(v), "curve": f"class {pos_label}"}
                  for c, v in zip(counts, lift, strict=True)])  # fmt: skip
    rows += [{"x": 0.0, "y": 1.0, "curve": "baseline"}, {"x": 1.0, "y": 1.0, "curve": "baseline"}]
    spec = _curve(rows, "Percentage of sample", "Lift", "Lift curve")
    spec["encoding"]["y"]["scale"] = {"zero": True}
    return spec


def residuals(y_true: Any, y_pred: Any) -> dict[str, Any]:
    """Residuals (target - prediction) against the prediction, with a zero line."""
    import numpy as np

    pred = np.asarray(y_pred, dtype=float)
    resid = np.asarray(y_true, dtype=float) - pred
    idx: list[int] = np.linspace(0, len(pred) - 1, min(len(pred), 5 * MAX_POINTS)).astype(int).tolist() if len(pred) else []
    rows = [{"prediction": float(pred[i]), "residual": float(resid[i])} for i in idx]
    return {"title": "Residuals", "data": {"values": rows}, "layer": [
        {"mark": {"type": "point", "opacity": 0.5},
         "encoding": {"x": {"field": "prediction", "type": "quantitative", "title": "Prediction"},
                      "y": {"field": "residual", "type": "quantitative", "title": "Target - prediction"}}},
        {"mark": {"type": "rule", "color": "gray"}, "encoding": {"y": {"datum": 0}}},
    ]}  # fmt: skip
