"""Prompts under version control (issue #15 part 6): versions, aliases, URIs, templates, search, the magic."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import jupyter_lifecycle as lc
from jupyter_lifecycle.errors import InvalidInput, NotFound

from .test_magics import run


def test_versions_aliases_and_uris(home: Path) -> None:
    first = lc.genai.register_prompt("qa", "Answer {{question}} using {{ docs }}", commit_message="first", tags={"n": 1})
    assert (first.name, first.version, first.commit_message, first.tags) == ("qa", 1, "first", {"n": "1"})
    assert first.variables == {"question", "docs"} and first.uri == "prompts:/qa/1" and first.is_text_prompt
    second = lc.genai.register_prompt("qa", "Answer {{question}} briefly")
    assert second.version == 2 and second.commit_message is None

    assert lc.genai.load_prompt("qa").version == 2  # the newest
    assert lc.genai.load_prompt("prompts:/qa/1").template == "Answer {{question}} using {{ docs }}"
    assert lc.genai.load_prompt("qa", version=1).commit_message == "first"
    assert lc.genai.load_prompt("prompts:/qa@latest").version == 2

    lc.genai.set_prompt_alias("qa", "prod", 1)
    assert lc.genai.load_prompt("prompts:/qa@prod").version == 1
    assert lc.genai.load_prompt("qa", version=1).aliases == ["prod"]
    lc.genai.set_prompt_alias("qa", "prod", 2)  # an alias moves
    assert lc.genai.load_prompt("prompts:/qa@prod").version == 2 and lc.genai.load_prompt("qa", 1).aliases == []
    lc.genai.delete_prompt_alias("qa", "prod")
    with pytest.raises(NotFound, match="no alias 'prod'"):
        lc.genai.load_prompt("prompts:/qa@prod")
    assert lc.genai.load_prompt("prompts:/qa@prod", allow_missing=True) is None

    with pytest.raises(NotFound, match=r"no version 7: its versions are \[1, 2\]"):
        lc.genai.load_prompt("qa", version=7)
    with pytest.raises(NotFound, match="prompt 'nope' not found"):
        lc.genai.load_prompt("nope")
    with pytest.raises(InvalidInput, match="not both"):
        lc.genai.load_prompt("prompts:/qa/1", version=2)
    with pytest.raises(InvalidInput, match="invalid prompt URI"):
        lc.genai.load_prompt("prompts:/qa/1/2")
    with pytest.raises(InvalidInput, match="reserved"):
        lc.genai.set_prompt_alias("qa", "latest", 1)
    with pytest.raises(NotFound, match="no version 9"):
        lc.genai.set_prompt_alias("qa", "prod", 9)
    with pytest.raises(InvalidInput, match="cannot contain '/'"):
        lc.genai.register_prompt("a/b", "x")

    # Versions are immutable, in the database itself
    with sqlite3.connect(home / "lifecycle.db") as conn, pytest.raises(sqlite3.IntegrityError, match="immutable"):
        conn.execute("UPDATE prompt_versions SET template = 'changed' WHERE name = 'qa' AND version = 1")
    assert lc.genai.load_prompt("qa", 1).template.startswith("Answer {{question}} using")
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.template = "changed"  # type: ignore[misc]
    # Prompts are not registered models
    assert len(lc.search_registered_models()) == 0




def test_format_text_and_chat_templates(home: Path) -> None:
    text = lc.genai.register_prompt("t", "Answer {{question}} using {{docs}}.")
    assert text.format(question="why {{docs}}?", docs=["a", "b"]) == "Answer why {{docs}}? using ['a', 'b']."
    with pytest.raises(InvalidInput, match=r"needs a value for docs: pass docs=\.\.\."):
        text.format(question="q")
    partial = text.format(allow_partial=True, question="q")
    assert isinstance(partial, lc.genai.PromptVersion) and partial.template == "Answer q using {{docs}}."
    assert partial.variables == {"docs"} and partial.format(docs="d") == "Answer q using d."

    messages = [{"role": "system", "content": "You are {{style}}."}, {"role": "user", "content": "{{question}}"}]
    chat = lc.genai.register_prompt("c", messages, commit_message="chat")
    loaded = lc.genai.load_prompt("c")
    assert loaded.template == messages and not loaded.is_text_prompt and loaded.variables == {"style", "question"}
    assert loaded.format(style="brief", question="Why?") == [
        {"role": "system", "content": "You are brief."}, {"role": "user", "content": "Why?"}
    ]  # fmt: skip
    assert chat.template == messages  # the stored template is untouched by formatting
    with pytest.raises(InvalidInput, match="needs a value for question, style"):
        loaded.format()
    with pytest.raises(InvalidInput, match="chat template message 1"):
        lc.genai.register_prompt("bad", [{"role": "user", "content": "x"}, {"content": "no role"}])
    with pytest.raises(InvalidInput, match="got int"):
        lc.genai.register_prompt("bad", 42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="Jinja2"):
        lc.genai.register_prompt("j", "{% if x %}{{x}}{% endif %}").format(x=1)


def test_search_prompts_and_the_magic(home: Path, ipython: Any) -> None:
    for name in ("qa-short", "qa-long", "summary"):
        lc.genai.register_prompt(name, f"{name}: {{{{text}}}}")
    lc.genai.register_prompt("qa-long", "v2 {{text}}")
    lc.genai.set_prompt_tag("qa-long", "team", "search")
    lc.genai.set_prompt_alias("qa-long", "prod", 1)
    assert [p.name for p in lc.genai.search_prompts()] == ["qa-long", "qa-short", "summary"]
    found = lc.genai.search_prompts("name LIKE 'qa%' and tags.team = 'search'")
    assert [(p.name, p.latest_version, p.aliases, p.tags) for p in found] == [
        ("qa-long", 2, {"prod": 1}, {"team": "search"})
    ]
    assert [p.name for p in lc.genai.search_prompts(max_results=1)] == ["qa-long"]
    lc.genai.set_prompt_tag("qa-long", 'a."b', "dotted")  # a key no JSON path can name
    assert lc.genai.search_prompts("name = 'qa-long'")[0].tags == {"team": "search", 'a."b': "dotted"}
    lc.genai.delete_prompt_tag("qa-long", 'a."b')
    lc.genai.delete_prompt_tag("qa-long", "team")
    assert lc.genai.search_prompts("tags.team = 'search'") == []
    assert lc.genai.search_prompts("name = 'qa-long'")[0].tags == {}
    with pytest.raises(NotFound, match="no tag 'team'"):
        lc.genai.delete_prompt_tag("qa-long", "team")
    with pytest.raises(InvalidInput, match="unknown attribute 'colour'"):
        lc.genai.search_prompts("colour = 'red'")

    result, captured = run(ipython, "%lifecycle prompts name LIKE 'qa%' -n 5")  # the filter typed as is
    table = "".join(o.data.get("text/html", "") for o in captured.outputs)
    assert result.success and "<td>qa-long</td>" in table and "<td>qa-short</td>" in table
    assert "summary" not in table and "<td>prod=1</td>" in table
    ipython.run_cell("%unload_ext jupyter_lifecycle")
