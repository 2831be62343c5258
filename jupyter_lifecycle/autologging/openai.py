"""OpenAI autolog, as ``mlflow.openai.autolog``: each chat completion becomes a ``CHAT_MODEL`` span.

``autolog()`` wraps ``chat.completions.create`` of the real ``openai`` client
(``Completions`` and ``AsyncCompletions``, so every client instance, made
before or after). A call inside a traced function or span is a child span of
it; otherwise it is a trace of its own. The span holds the request (inputs:
the call's keyword arguments; attributes: the parameters other than
``messages``), the response (outputs: the completion as a dict), the model
(``mlflow.llm.model``) and the token usage (``mlflow.chat.tokenUsage``:
``input_tokens``, ``output_tokens``, ``total_tokens``), under MLflow's
attribute names. A streamed response (``stream=True``) keeps the span open
until the stream ends or is closed, then records the completion rebuilt from
its chunks. An error from the API is recorded on the span and raised unchanged;
a problem in autolog itself is a warning, never an error in the caller's code.
``autolog(disable=True)`` puts the originals back.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from ..errors import InvalidInput
from ..tracing import SpanType, get_current_active_span, start_span_no_context
from ..tracing.entities import Span
from .options import check_mlflow_options

__all__ = ["autolog", "is_enabled"]

MESSAGE_FORMAT = "mlflow.message.format"
MODEL = "mlflow.llm.model"
CHAT_USAGE = "mlflow.chat.tokenUsage"
CHAT_TOOLS = "mlflow.chat.tools"

_patches: list[tuple[type, str, Any]] = []
_settings = {"silent": False}


def is_enabled() -> bool:
    """Whether OpenAI autolog is on."""
    return bool(_patches)


def autolog(
    disable: bool = False,
    log_traces: bool = True,
    silent: bool = False,
    disable_openai_agent_tracer: bool = True,
    **mlflow_options: Any,
) -> None:
    """Trace every ``chat.completions.create`` call of the ``openai`` client (``disable=True`` stops).

    ``log_traces=False`` records nothing, as in MLflow (the same as
    ``disable=True`` here, where traces are all OpenAI autolog records);
    ``silent=True`` hides autolog's own warnings. MLflow's ``exclusive=False``
    and ``disable_for_unsupported_versions`` are taken; ``exclusive=True`` is
    refused. The OpenAI Agents SDK is not traced, so
    ``disable_openai_agent_tracer`` can only be ``True``.
    """
    check_mlflow_options(
        "OpenAI", mlflow_options,
        "disable, log_traces, silent, disable_openai_agent_tracer, exclusive=False, disable_for_unsupported_versions",
    )  # fmt: skip
    if disable_openai_agent_tracer is not True:
        raise InvalidInput(
            "OpenAI autolog cannot take disable_openai_agent_tracer=False: the OpenAI Agents SDK is not traced here"
        )
    _unpatch()
    if disable or not log_traces:
        return
    try:
        from openai.resources.chat.completions import AsyncCompletions, Completions
    except ImportError as exc:
        raise InvalidInput(f"OpenAI autolog needs the openai package (pip install openai): {exc}") from exc
    _settings["silent"] = bool(silent)
    _patch(Completions, "create", _sync_create)
    _patch(AsyncCompletions, "create", _async_create)


def _patch(owner: type, name: str, wrap: Callable[[Any], Any]) -> None:
    original = owner.__dict__[name]
    _patches.append((owner, name, original))
    setattr(owner, name, wrap(original))


def _unpatch() -> None:
    while _patches:
        owner, name, original = _patches.pop()
        setattr(owner, name, original)


def _warn(message: str) -> None:
    if not _settings["silent"]:
        warnings.warn(f"jupyter-lifecycle OpenAI autolog: {message}", stacklevel=3)


def _sync_create(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        span = _start(self, kwargs)
        try:
            result = original(self, *args, **kwargs)
        except BaseException as exc:
            _fail(span, exc)
            raise
        return _end(span, result)

    return create


def _async_create(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        span = _start(self, kwargs)
        try:
            result = await original(self, *args, **kwargs)
        except BaseException as exc:
            _fail(span, exc)
            raise
        return _end(span, result)

    return create


def _start(instance: Any, kwargs: dict[str, Any]) -> Span | None:
    try:
        attributes = {key: value for key, value in kwargs.items() if key not in ("messages", "extra_headers")}
        attributes[MESSAGE_FORMAT] = "openai"
        if kwargs.get("tools"):
            attributes[CHAT_TOOLS] = kwargs["tools"]
        return start_span_no_context(
            type(instance).__name__, span_type=SpanType.CHAT_MODEL, parent_span=get_current_active_span(),
            inputs=kwargs, attributes=attributes,
        )  # fmt: skip
    except Exception as exc:  # tracing must never stop the call
        _warn(f"could not start a span: {exc!r}")
        return None


def _fail(span: Span | None, exc: BaseException) -> None:
    if span is not None:
        span.record_exception(exc)
        span.end()


def _end(span: Span | None, result: Any) -> Any:
    if span is None:
        return result
    try:
        from openai import AsyncStream, Stream

        if isinstance(result, Stream):
            result._iterator = _watch_stream(span, result._iterator)
        elif isinstance(result, AsyncStream):
            result._iterator = _watch_async_stream(span, result._iterator)
        else:
            _record(span, result)
    except Exception as exc:
        _warn(f"could not record the response: {exc!r}")
        span.end()
    return result


def _record(span: Span, result: Any) -> None:
    """End the span with a (non-streamed) response: outputs, model, token usage."""
    if hasattr(result, "http_response") and hasattr(result, "parse"):  # with_raw_response
        result = result.parse()
    completion = result.model_dump(mode="json") if hasattr(result, "model_dump") else result
    if isinstance(completion, dict):
        if completion.get("model"):
            span.set_attribute(MODEL, completion["model"])
        usage = completion.get("usage")
        if isinstance(usage, dict):
            span.set_attribute(CHAT_USAGE, _usage(usage))
    span.end(outputs=completion)


def _usage(usage: dict[str, Any]) -> dict[str, int]:
    """OpenAI's usage in MLflow's ``mlflow.chat.tokenUsage`` keys."""
    out = {"input_tokens": usage.get("prompt_tokens"), "output_tokens": usage.get("completion_tokens"),
           "total_tokens": usage.get("total_tokens")}  # fmt: skip
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    if cached is not None:
        out["cache_read_input_tokens"] = cached
    return {key: value for key, value in out.items() if value is not None}


def _watch_stream(span: Span, chunks: Iterator[Any]) -> Iterator[Any]:
    seen: list[Any] = []
    try:
        for chunk in chunks:
            seen.append(chunk)
            yield chunk
    except BaseException as exc:
        if not isinstance(exc, GeneratorExit):  # closed early: what came so far is the output
            _fail(span, exc)
            raise
        _finish_stream(span, seen)
        raise
    _finish_stream(span, seen)


async def _watch_async_stream(span: Span, chunks: AsyncIterator[Any]) -> AsyncIterator[Any]:
    seen: list[Any] = []
    try:
        async for chunk in chunks:
            seen.append(chunk)
            yield chunk
    except BaseException as exc:
        if not isinstance(exc, GeneratorExit):
            _fail(span, exc)
            raise
        _finish_stream(span, seen)
        raise
    _finish_stream(span, seen)


def _finish_stream(span: Span, chunks: list[Any]) -> None:
    try:
        _record(span, _completion_from_chunks(chunks))
    except Exception as exc:
        _warn(f"could not rebuild the streamed completion: {exc!r}")
        span.end()


def _completion_from_chunks(chunks: list[Any]) -> dict[str, Any] | None:
    """A ``chat.completion`` dict rebuilt from the ``chat.completion.chunk``s of a stream."""
    parts = [c.model_dump(mode="json") if hasattr(c, "model_dump") else c for c in chunks]
    parts = [p for p in parts if isinstance(p, dict) and p.get("object") == "chat.completion.chunk"]
    if not parts:
        return None
    choices: dict[int, dict[str, Any]] = {}
    for part in parts:
        for choice in part.get("choices") or []:
            slot = choices.setdefault(choice.get("index", 0), {"index": choice.get("index", 0), "role": None,
                                                                 "content": [], "finish_reason": None})  # fmt: skip
            delta = choice.get("delta") or {}
            slot["role"] = delta.get("role") or slot["role"]
            if delta.get("content"):
                slot["content"].append(delta["content"])
            slot["finish_reason"] = choice.get("finish_reason") or slot["finish_reason"]
    usage = next((p["usage"] for p in reversed(parts) if p.get("usage")), None)
    return {
        "id": parts[0].get("id"), "object": "chat.completion", "created": parts[0].get("created"),
        "model": parts[0].get("model"),
        "choices": [
            {"index": c["index"], "message": {"role": c["role"] or "assistant", "content": "".join(c["content"])},
             "finish_reason": c["finish_reason"]}
            for _, c in sorted(choices.items())
        ],
        "usage": usage,
    }  # fmt: skip
