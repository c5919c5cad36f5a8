"""Wrap a prompt so the assistant turn opens QwQ's reasoning with `<think>\\n` exactly once.

Some QwQ uploads ship a jinja chat template whose `add_generation_prompt` branch already ends
in `<think>\\n`; runners that add it again produce `<think>\\n<think>\\n`, runners that rely on
neither get no reasoning (BRIEF section 1). Here the template is rendered (with jinja2, in a
sandbox: a template is data from a model file) for one user turn, and `<think>\\n` is appended
only when the template did not open it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from prompts import DEFAULT_PROMPT, Prompt, load_prompt

THINK_OPEN = "<think>"
THINK_PREFIX = THINK_OPEN + "\n"
_PROBE = "gencheck-probe-message"
# Fallback for a template jinja2 cannot render: the text of the add_generation_prompt branch,
# up to the branch's end, must emit `<think>` last.
_GENERATION_BRANCH = re.compile(
    r"if\s+add_generation_prompt\s*-?%\}(?P<body>.*?)\{%-?\s*(?:endif|else|elif)", re.DOTALL
)
_EMITTED_STRING = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"")


class TemplateError(ValueError):
    """The chat template could not be rendered."""


def _raise_exception(message: str) -> None:
    raise TemplateError(message)


@lru_cache(maxsize=32)
def _compile(template: str) -> Any:
    from jinja2 import TemplateSyntaxError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: "2026-01-01"
    try:
        return env.from_string(template)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"chat template does not parse: {exc}") from None


def render_chat(template: str, messages: list[dict[str, str]], *,
                add_generation_prompt: bool) -> str:
    """The template rendered as llama.cpp's jinja path would, for these messages."""
    try:
        return str(_compile(template).render(
            messages=messages, add_generation_prompt=add_generation_prompt,
            bos_token="", eos_token="<|im_end|>", tools=None,
        ))
    except TemplateError:
        raise
    except Exception as exc:  # jinja runtime errors of every kind, from model-supplied text
        raise TemplateError(f"chat template does not render: {exc}") from None


def generation_prompt(template: str) -> str:
    """What the template appends for `add_generation_prompt` after a user turn."""
    messages = [{"role": "user", "content": _PROBE}]
    with_prompt = render_chat(template, messages, add_generation_prompt=True)
    without = render_chat(template, messages, add_generation_prompt=False)
    if with_prompt.startswith(without):
        return with_prompt[len(without):]
    return with_prompt[with_prompt.rfind(_PROBE) + len(_PROBE):]


def _branch_ends_in_think(template: str) -> bool:
    for branch in _GENERATION_BRANCH.finditer(template):
        strings = [a or b for a, b in _EMITTED_STRING.findall(branch.group("body"))]
        if strings and strings[-1].replace("\\n", "\n").rstrip().endswith(THINK_OPEN):
            return True
    return False


def template_adds_think(template: str) -> bool:
    """Does the template's generation prompt already open `<think>`?

    Rendered when jinja2 can; otherwise the add_generation_prompt branch's last emitted string
    literal is inspected.
    """
    try:
        return generation_prompt(template).rstrip().endswith(THINK_OPEN)
    except TemplateError:
        return _branch_ends_in_think(template)


def _as_prompt(prompt: Prompt | str) -> Prompt:
    if isinstance(prompt, Prompt):
        return prompt
    # A bare text gets the default prompt's chat wrapping (the prompts/ data owns ChatML).
    chat = load_prompt(DEFAULT_PROMPT).chat
    return Prompt(name="inline", text=prompt, chat=chat)


def _open_think_once(text: str) -> str:
    """End the text with exactly one `<think>\\n`, whatever it ended with."""
    body = text.rstrip("\n")
    while body.endswith(THINK_OPEN):
        body = body[: -len(THINK_OPEN)].rstrip("\n")
    return body + "\n" + THINK_PREFIX


def wrap_prompt(prompt: Prompt | str, *, template: str | None) -> str:
    """The text to feed the model: one user turn, the assistant turn open, `<think>\\n` once.

    With `template` (a GGUF's `tokenizer.chat_template`) the turn is rendered by it, as
    llama-server or Ollama would; a template jinja2 cannot render falls back to the prompt's
    own ChatML wrapping. Without it, the prompt's wrapping from prompts/ is used.
    """
    resolved = _as_prompt(prompt)
    if template is not None:
        try:
            rendered = render_chat(template, [{"role": "user", "content": resolved.text}],
                                   add_generation_prompt=True)
        except TemplateError:
            rendered = None
        if rendered is not None:
            return _open_think_once(rendered)
    return _open_think_once(resolved.wrapped())
