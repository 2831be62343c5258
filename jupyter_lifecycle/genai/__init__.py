"""GenAI, as ``mlflow.genai`` (issue #15): prompts under version control.

No IPython here: ``%lifecycle prompts`` lives in ``notebook/magics/tracing.py``.
"""

from .prompts import (
    Prompt,
    PromptVersion,
    delete_prompt_alias,
    delete_prompt_tag,
    load_prompt,
    register_prompt,
    search_prompts,
    set_prompt_alias,
    set_prompt_tag,
)

__all__ = [
    "Prompt", "PromptVersion", "delete_prompt_alias", "delete_prompt_tag", "load_prompt", "register_prompt",
    "search_prompts", "set_prompt_alias", "set_prompt_tag",
]  # fmt: skip
