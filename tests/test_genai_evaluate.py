"""``genai.evaluate`` (issue #15 part 5) on a real store: an app run traced, code scorers, a judge callable,
a scorer that raises, metrics on a run, assessments on the traces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle import genai
from jupyter_lifecycle.errors import InvalidInput
from jupyter_lifecycle.genai import scorers
from jupyter_lifecycle.tracing import Expectation, Feedback, Trace, TraceState

DATA = [
    {"inputs": {"question": "Capital of France?"},
     "expectations": {"expected_response": "Paris", "expected_facts": ["Paris"]}},
    {"inputs": {"question": "Capital of Spain?"},
     "expectations": {"expected_response": "Madrid", "expected_facts": ["Madrid"]}},
    {"inputs": {"question": "Capital of Italy?"},
     "expectations": {"expected_response": "Rome", "expected_facts": ["Rome", "Italy"]}},
]  # fmt: skip
ANSWERS = {"Capital of France?": "Paris", "Capital of Spain?": "Madrid, of course", "Capital of Italy?": "I do not know"}


def answer(question: str) -> str:
    with lc.start_span("lookup", span_type="RETRIEVER") as span:
        span.set_inputs({"q": question})
        found = ANSWERS[question]
        span.set_outputs(found)
    return found


def judge(prompt: str) -> str:
    """A deterministic stand-in for an LLM: 'yes' when the response names the expected city."""
    response = prompt.split("Response:\n", 1)[1].split("\n\n", 1)[0]
    expected = prompt.split("Expected response:\n", 1)[1].split("\n", 1)[0]
    verdict = "yes" if expected in response else "no"
    return json.dumps({"result": verdict, "rationale": f"{expected!r} {'is' if verdict == 'yes' else 'is not'} named"})


@genai.scorer
def is_concise(outputs: str) -> bool:
    return len(outputs.split()) <= 2


@genai.scorer(name="words", aggregations=["mean", "min", "max"])
def word_count(inputs: dict[str, Any], outputs: str, trace: Any) -> Feedback:
    assert trace.info.trace_id and inputs["question"]  # given the row's trace and inputs
    return Feedback(value=len(outputs.split()), rationale=f"{len(trace.data.spans)} spans")


@genai.scorer
def fragile(inputs: dict[str, Any]) -> int:
    if "Spain" in inputs["question"]:
        raise RuntimeError("scorer broke on Spain")
    return 1


def test_evaluate_an_app_with_code_scorers_a_judge_and_a_raising_scorer(home: Path) -> None:
    result = genai.evaluate(
        data=DATA,
        predict_fn=answer,
        scorers=[is_concise, word_count, fragile, scorers.ExactMatch(), scorers.ContainsExpectedFacts(),
                 scorers.Correctness(model=judge)],
    )  # fmt: skip
    assert result.metrics == pytest.approx({
        "is_concise/mean": 1 / 3, "words/mean": 8 / 3, "words/min": 1.0, "words/max": 4.0, "fragile/mean": 1.0,
        "exact_match/mean": 1 / 3, "contains_expected_facts/mean": 2 / 3, "correctness/mean": 2 / 3,
    })  # fmt: skip
    run = lc.get_run(result.run_id)
    assert run.info.status == "FINISHED"  # a run made for the evaluation is ended
    assert run.data.metrics == pytest.approx(result.metrics)

    table = result.tables["eval_results"]
    assert table is result.result_df and len(table) == 3
    assert list(table["outputs"]) == ["Paris", "Madrid, of course", "I do not know"]
    spain = table.iloc[1]
    assert spain["fragile/error_code"] == "RuntimeError" and spain["fragile/error_message"] == "scorer broke on Spain"
    assert spain["exact_match/value"] == "no" and spain["correctness/value"] == "yes"
    assert spain["correctness/rationale"] == "'Madrid' is named" and spain["words/rationale"] == "2 spans"
    assert spain["words/value"] == 3 and spain["is_concise/value"] == False  # noqa: E712  (a numpy bool)
    assert table.iloc[2]["contains_expected_facts/rationale"] == "missing: Rome, Italy"

    # each call was traced inside the run, and the row's feedback and expectations are on its trace
    traces = lc.search_traces(run_id=result.run_id, return_type="list")
    assert sorted(t.info.trace_id for t in traces) == sorted(table["trace_id"])  # type: ignore[union-attr]
    stored = lc.get_trace(spain["trace_id"])
    assert [s.name for s in stored.data.spans] == ["answer", "lookup"]
    by_name = {a.name: a for a in stored.info.assessments}
    assert isinstance(by_name["expected_response"], Expectation) and by_name["expected_response"].value == "Madrid"
    broken = by_name["fragile"]
    assert isinstance(broken, Feedback) and broken.value is None and broken.error_code == "RuntimeError"
    assert "scorer broke on Spain" in (broken.error.stack_trace or "")  # type: ignore[union-attr]
    assert by_name["correctness"].source.source_type == "LLM_JUDGE" and by_name["correctness"].source.source_id == "judge"
    assert by_name["is_concise"].source.source_type == "CODE" and by_name["is_concise"].source.source_id == "is_concise"
    assert all(a.run_id == result.run_id for a in stored.info.assessments)
    # the table's trace column is the trace with its assessments, in MLflow's JSON
    assert len(json.loads(spain["trace"])["info"]["assessments"]) == len(stored.info.assessments)


def test_predict_fn_that_raises_is_recorded_and_the_row_still_scored(home: Path) -> None:
    def flaky(question: str) -> str:
        if "Spain" in question:
            raise TimeoutError("model timed out")
        return ANSWERS[question]

    with lc.start_run() as run:  # the active run is used, and left open
        result = genai.evaluate(DATA, predict_fn=flaky, scorers=[scorers.ExactMatch()])
        assert lc.active_run() is not None
    assert result.run_id == run.info.run_id
    row = result.result_df.iloc[1]
    assert row["error_message"] == "TimeoutError: model timed out" and row["exact_match/value"] == "no"
    assert lc.get_trace(row["trace_id"]).info.state is TraceState.ERROR
    assert result.metrics == {"exact_match/mean": pytest.approx(1 / 3)}


def test_each_row_is_its_own_trace_even_inside_a_span_and_is_linked_to_the_model(home: Path) -> None:
    model = lc.initialize_logged_model(name="qa-agent")
    with lc.start_span("notebook-cell"):
        result = genai.evaluate(DATA[:2], predict_fn=answer, scorers=[is_concise], model_id=model.model_id)
    ids = list(result.result_df["trace_id"])
    assert len(set(ids)) == 2
    for trace_id in ids:
        trace = lc.get_trace(trace_id)
        assert [s.name for s in trace.data.spans if s.parent_id is None] == ["answer"]
        assert trace.info.trace_metadata["mlflow.modelId"] == model.model_id
    assert lc.get_active_model_id() is None  # made active only during the evaluation
    runs = len(lc.search_runs())
    with pytest.raises(lc.NotFound):
        genai.evaluate(DATA[:1], predict_fn=answer, scorers=[is_concise], model_id="m-" + "0" * 32)
    assert len(lc.search_runs()) == runs and lc.active_run() is None  # no run left behind


def test_evaluate_recorded_outputs_and_stored_traces(home: Path) -> None:
    # outputs given in the data: a trace is made per row to hold its assessments
    given = [{**row, "outputs": ANSWERS[row["inputs"]["question"]]} for row in DATA]
    first = genai.evaluate(pd.DataFrame(given), scorers=[scorers.RegexMatch(r"^[A-Z][a-z]+$")])
    assert first.metrics == {"regex_match/mean": pytest.approx(1 / 3)}
    made = lc.get_trace(first.result_df["trace_id"][0])
    assert made.data.spans[0].inputs == {"question": "Capital of France?"} and made.data.spans[0].outputs == "Paris"

    # traces from search_traces: their root inputs/outputs and their expectations are the rows
    frame = lc.search_traces(run_id=first.run_id)
    second = genai.evaluate(frame, scorers=[scorers.ExactMatch(case_insensitive=True)])
    assert second.metrics == {"exact_match/mean": pytest.approx(1 / 3)}
    assert sorted(second.result_df["trace_id"]) == sorted(first.result_df["trace_id"])
    again = lc.get_trace(made.info.trace_id)
    names = [a.name for a in again.info.assessments]
    assert names.count("expected_response") == 1  # not logged twice
    assert "regex_match" in names and "exact_match" in names
    # and a list of Trace objects
    third = genai.evaluate(lc.search_traces(run_id=first.run_id, return_type="list"), scorers=[is_concise])
    assert third.metrics == {"is_concise/mean": pytest.approx(1 / 3)}


def test_judge_answers_and_refusals(home: Path) -> None:
    rows = [{"inputs": {"q": "a"}, "outputs": "polite answer"}, {"inputs": {"q": "b"}, "outputs": "<b>rude</b> answer"}]
    answers = iter(["Yes. It is polite.", "```json\n{\"result\": \"no\", \"rationale\": \"rude\"}\n```"])
    tone = scorers.Guidelines(name="tone", guidelines=["Be polite"], model=lambda prompt: next(answers))
    result = genai.evaluate(rows, scorers=[tone])
    assert list(result.result_df["tone/value"]) == ["yes", "no"]
    assert list(result.result_df["tone/rationale"]) == ["It is polite.", "rude"]
    page = result._repr_html_()
    assert "tone/mean" in page and "tone/value" in page and "polite answer" in page
    assert "tone/rationale" not in page  # values only; the table has the rest
    assert "<b>rude" not in page and "&lt;b&gt;rude&lt;/b&gt; answer" in page

    nonsense = scorers.RelevanceToQuery(model=lambda prompt: "perhaps")
    odd = genai.evaluate(rows, scorers=[nonsense])
    assert list(odd.result_df["relevance_to_query/error_code"]) == ["InvalidInput", "InvalidInput"]
    assert "perhaps" in odd.result_df["relevance_to_query/error_message"][0]
    assert odd.metrics == {}

    with pytest.raises(InvalidInput, match="needs model="):
        scorers.Correctness()
    with pytest.raises(InvalidInput, match="calls no LLM service by URI"):
        scorers.Correctness(model="openai:/gpt-4o")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="must be named inputs, outputs, expectations, trace"):
        genai.scorer(name="r")(lambda response: 1)
    with pytest.raises(InvalidInput, match="not a scorer .decorate"):
        genai.evaluate(rows, scorers=[lambda outputs: 1])  # type: ignore[list-item]
    with pytest.raises(InvalidInput, match="two scorers are named 'is_concise'"):
        genai.evaluate(rows, scorers=[is_concise, is_concise])
    with pytest.raises(InvalidInput, match="row 0 has no outputs and no trace"):
        genai.evaluate([{"inputs": {"q": "a"}}], scorers=[is_concise])
    with pytest.raises(InvalidInput, match="row 0 needs 'inputs' as a dict"):
        genai.evaluate([{"inputs": "a"}], predict_fn=answer, scorers=[is_concise])
    with pytest.raises(InvalidInput, match="unknown column.*request"):
        genai.evaluate([{"request": "a", "outputs": "b"}], scorers=[is_concise])
    async def app(q: str) -> str:
        return q

    with pytest.raises(InvalidInput, match="'app' is async"):
        genai.evaluate(rows, predict_fn=app, scorers=[is_concise])
    elsewhere = lc.get_trace(result.result_df["trace_id"][0]).to_dict()
    elsewhere["info"]["trace_id"] = "tr-" + "0" * 32  # a trace of another store
    with pytest.raises(InvalidInput, match="'tr-0+' given in data is not in this store"):
        genai.evaluate([Trace.from_dict(elsewhere)], scorers=[is_concise])
    with pytest.raises(InvalidInput, match="named '<lambda>'.*give one with name="):
        genai.scorer(lambda outputs: 1)
    odd_name = genai.scorer(name="odd")(lambda outputs: Feedback(name="a/b", value=1))
    named = genai.evaluate(rows, scorers=[odd_name])
    assert list(named.result_df["odd/error_code"]) == ["InvalidInput", "InvalidInput"] and named.metrics == {}
    with pytest.raises(InvalidInput, match="unknown aggregation 'avg'"):
        genai.scorer(name="a", aggregations=["avg"])(lambda outputs: 1)


def test_a_long_evaluation_shows_a_progress_bar(home: Path) -> None:
    # In a script of its own: where IPython is running, tqdm.auto draws a widget instead of writing to stderr.
    code = textwrap.dedent(
        """
        import sys
        import jupyter_lifecycle as lc
        lc.set_store(sys.argv[1])
        concise = lc.genai.scorer(name="concise")(lambda outputs: len(outputs) < 5)
        rows = [{"inputs": {"q": str(i)}, "outputs": str(i)} for i in range(int(sys.argv[2]))]
        print(lc.genai.evaluate(rows, scorers=[concise]).metrics)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    long = subprocess.run([sys.executable, "-c", code, str(home), "25"], capture_output=True, text=True, timeout=300,
                          env=env)  # fmt: skip
    assert long.returncode == 0, long.stderr
    assert "Evaluating" in long.stderr and "25/25" in long.stderr
    assert long.stdout.strip() == "{'concise/mean': 1.0}"
    short = subprocess.run([sys.executable, "-c", code, str(home), "3"], capture_output=True, text=True, timeout=300,
                           env=env)  # fmt: skip
    assert short.returncode == 0 and "Evaluating" not in short.stderr  # a short one shows none


def test_compare_two_evaluations(home: Path) -> None:
    good = genai.evaluate(DATA, predict_fn=answer, scorers=[scorers.ContainsExpectedFacts()])
    bad = genai.evaluate(DATA, predict_fn=lambda question: "no idea", scorers=[scorers.ContainsExpectedFacts()])
    comparison = lc.compare([good, bad])  # evaluation results, as MLflow users hold them
    assert [r.info.run_id for r in comparison.runs] == [good.run_id, bad.run_id]
    means = comparison.metrics[("contains_expected_facts/mean", "last")]
    assert list(means) == pytest.approx([2 / 3, 0.0])
    assert comparison.chart is not None  # single values: bars of the final metrics
    assert "contains_expected_facts/mean" in comparison._repr_html_()
