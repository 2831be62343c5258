"""Prompts under version control, as ``mlflow.genai``: ``register_prompt``, ``load_prompt``, aliases.

A prompt is a name with immutable, numbered versions; each version holds a
template, either text with ``{{variable}}`` placeholders or a list of chat
messages (``{"role": ..., "content": ...}``) whose contents have them.
``load_prompt`` takes a name and version or MLflow's URIs ``prompts:/qa/2``,
``prompts:/qa@prod`` and ``prompts:/qa@latest``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput, NotFound
from ..store.prompts import PromptStore, check_prompt_name
from ..tracking import fluent as tracking

__all__ = [
    "Prompt", "PromptVersion", "delete_prompt_alias", "delete_prompt_tag", "load_prompt", "register_prompt",
    "search_prompts", "set_prompt_alias", "set_prompt_tag",
]  # fmt: skip

VARIABLE = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*(?:\.[a-zA-Z_][a-zA-Z0-9_]*)*)\s*\}\}")
"""A ``{{variable}}`` placeholder (MLflow's ``PROMPT_TEMPLATE_VARIABLE_PATTERN``)."""
PROMPT_URI = re.compile(r"prompts:/(?P<name>[^/@]+)(?:/(?P<version>[^/@]+)|@(?P<alias>[^/@]+))?/?")

ChatMessages = list[dict[str, Any]]


@dataclass(frozen=True)
class PromptVersion:
    """One immutable version of a prompt (MLflow's ``PromptVersion``)."""

    name: str
    version: int
    template: str | ChatMessages
    commit_message: str | None = None
    creation_timestamp: int = 0
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)

    @property
    def is_text_prompt(self) -> bool:
        """``True`` for a text template, ``False`` for chat messages."""
        return isinstance(self.template, str)

    @property
    def description(self) -> str | None:
        """MLflow's other name for ``commit_message``."""
        return self.commit_message

    @property
    def uri(self) -> str:
        """``prompts:/<name>/<version>``."""
        return f"prompts:/{self.name}/{self.version}"

    @property
    def variables(self) -> set[str]:
        """The names of the template's ``{{variable}}`` placeholders."""
        texts = [self.template] if isinstance(self.template, str) else [m["content"] for m in self.template]
        return {name for text in texts for name in VARIABLE.findall(text)}

    def format(self, allow_partial: bool = False, **variables: Any) -> str | ChatMessages | PromptVersion:
        """The template with each ``{{variable}}`` replaced by ``str(value)``.

        A text template gives a string, a chat template a new list of messages.
        A variable left without a value is an ``InvalidInput`` naming it, unless
        ``allow_partial=True``: then a ``PromptVersion`` with the given ones
        filled in comes back, as in MLflow.
        """
        texts = [self.template] if isinstance(self.template, str) else [m["content"] for m in self.template]
        if any("{%" in text for text in texts):
            raise InvalidInput(
                f"prompt {self.uri} is a Jinja2 template ({{% ... %}}), which is not supported here: "
                "use {{variable}} placeholders"
            )
        missing = self.variables - set(variables)
        if missing and not allow_partial:
            raise InvalidInput(
                f"prompt {self.uri} needs a value for {', '.join(sorted(missing))}: "
                f"pass {', '.join(f'{name}=...' for name in sorted(missing))} to format() "
                "(or allow_partial=True to fill in only some)"
            )

        def fill(text: str) -> str:
            # One pass: a value that itself holds "{{x}}" is not filled in again.
            return VARIABLE.sub(lambda m: str(variables[m[1]]) if m[1] in variables else m[0], text)

        if isinstance(self.template, str):
            formatted: str | ChatMessages = fill(self.template)
        else:
            formatted = [{**message, "content": fill(message["content"])} for message in self.template]
        if missing:
            return dataclasses.replace(self, template=formatted)
        return formatted

    def __repr__(self) -> str:
        text = self.template if isinstance(self.template, str) else json.dumps(self.template)
        return f"PromptVersion(name={self.name}, version={self.version}, template={text[:30]}{'...' if len(text) > 30 else ''})"


@dataclass(frozen=True)
class Prompt:
    """A prompt: its name, tags, newest version and aliases (what ``search_prompts`` lists)."""

    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    tags: dict[str, str] = field(default_factory=dict)
    latest_version: int | None = None
    aliases: dict[str, int] = field(default_factory=dict)
    """Alias -> version."""
    description: str | None = None


def _store() -> PromptStore:
    return tracking.client().store.prompts


def _entity(row: dict[str, Any]) -> PromptVersion:
    return PromptVersion(**row)


def _check_template(template: Any) -> tuple[str, bool]:
    """The template as stored (text, or chat messages as JSON) and whether it is a chat template."""
    if isinstance(template, str):
        return template, False
    if isinstance(template, list) and template:
        for i, message in enumerate(template):
            if not (isinstance(message, dict) and isinstance(message.get("role"), str)
                    and isinstance(message.get("content"), str)):  # fmt: skip
                raise InvalidInput(
                    f"chat template message {i} is {message!r}: each message must be a dict with a 'role' "
                    "and a 'content' string, e.g. {'role': 'user', 'content': 'Answer {{question}}'}"
                )
        return json.dumps(template), True
    raise InvalidInput(
        f"a prompt template is a string with {{{{variable}}}} placeholders or a non-empty list of chat messages "
        f"({{'role': ..., 'content': ...}}), got {type(template).__name__} {template!r:.80}"
    )


def register_prompt(
    name: str,
    template: str | ChatMessages,
    commit_message: str | None = None,
    tags: dict[str, Any] | None = None,
) -> PromptVersion:
    """Register a new version of prompt ``name`` (version 1 creates the prompt); versions never change.

    ``template`` is text with ``{{variable}}`` placeholders or a list of chat
    messages ``{"role": ..., "content": ...}``; ``tags`` go on the version.
    """
    check_prompt_name(name)
    text, chat = _check_template(template)
    if tags is not None and not isinstance(tags, dict):
        raise InvalidInput(f"tags must be a dict of str to str, got {type(tags).__name__}")
    version_tags = {str(k): str(v) for k, v in (tags or {}).items()}
    return _entity(_store().create_version(name, text, chat, commit_message, version_tags))


def load_prompt(
    name_or_uri: str, version: str | int | None = None, allow_missing: bool = False
) -> PromptVersion | None:
    """A prompt version by ``name`` (+ ``version``, else the newest) or by URI.

    URIs: ``prompts:/qa/2``, ``prompts:/qa@prod`` (an alias), ``prompts:/qa@latest``
    or ``prompts:/qa`` (the newest). With ``allow_missing=True`` a prompt,
    version or alias that does not exist gives ``None`` instead of ``NotFound``.
    """
    store = _store()
    try:
        if str(name_or_uri).startswith("prompts:/"):
            match = PROMPT_URI.fullmatch(name_or_uri)
            if match is None:
                raise InvalidInput(
                    f"invalid prompt URI {name_or_uri!r}: use prompts:/<name>/<version> or prompts:/<name>@<alias>"
                )
            if version is not None:
                raise InvalidInput(
                    f"give the version in the URI or as version=, not both ({name_or_uri!r}, {version!r})"
                )
            name, alias, version = match["name"], match["alias"], match["version"]
            if alias is not None and alias != "latest":
                version = store.version_for_alias(name, alias)
        else:
            name = check_prompt_name(name_or_uri)
        if version is None:
            version = store.latest_version(name)
        return _entity(store.get_version(name, version))
    except NotFound:
        if allow_missing:
            return None
        raise


def set_prompt_alias(name: str, alias: str, version: int | str) -> None:
    """Point ``alias`` (e.g. ``"prod"``) at a version, so ``prompts:/<name>@<alias>`` loads it."""
    _store().set_alias(name, alias, version)


def delete_prompt_alias(name: str, alias: str) -> None:
    """Remove an alias of prompt ``name``."""
    _store().delete_alias(name, alias)


def set_prompt_tag(name: str, key: str, value: Any) -> None:
    """Set a tag on the prompt itself (``search_prompts("tags.team = 'qa'")`` finds it)."""
    if not str(key):
        raise InvalidInput("a prompt tag key must not be empty")
    _store().set_tag(name, str(key), str(value))


def delete_prompt_tag(name: str, key: str) -> None:
    """Remove a tag of the prompt."""
    _store().delete_tag(name, str(key))


def search_prompts(
    filter_string: str | None = None, max_results: int | None = None, order_by: Sequence[str] | None = None
) -> list[Prompt]:
    """Prompts matching MLflow's filter grammar: ``name`` (=, !=, LIKE, ILIKE...) and ``tags.<key>``.

    E.g. ``search_prompts("name LIKE 'qa%' and tags.team = 'search'")``; by name unless ``order_by``.
    """
    return [Prompt(**row) for row in _store().search(filter_string, max_results, order_by)]
