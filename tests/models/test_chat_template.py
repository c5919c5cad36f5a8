"""Chat wrapping opens `<think>` exactly once, whether or not the model's template does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.models.chat_template import (
    generation_prompt,
    render_chat,
    template_adds_think,
    wrap_prompt,
)
from pipeline.models.tiny_model import CHAT_TEMPLATE, CHAT_TEMPLATE_WITH_THINK
from prompts import load_prompt

# Shaped like the template QwQ uploads ship (system prompt, tool-less turns, reasoning stripped
# from assistant history), with the generation prompt that opens <think>.
QWQ_LIKE_WITH_THINK = """{%- if messages[0]['role'] == 'system' %}
    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
{%- endif %}
{%- for message in messages %}
    {%- if message.role == "user" %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {%- set content = message.content.split('</think>')[-1].lstrip('\\n') %}
        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n<think>\\n' }}
{%- endif %}
"""
QWQ_LIKE_FIXED = QWQ_LIKE_WITH_THINK.replace("assistant\\n<think>\\n' }}", "assistant\\n' }}")
# jinja2 refuses an unknown filter at compile time; the branch is still readable as text.
UNRENDERABLE_WITH_THINK = ("{{ messages | llama_only_filter }}{%- if add_generation_prompt %}"
                           "{{- '<|im_start|>assistant\\n<think>\\n' }}{%- endif %}")
UNRENDERABLE_FIXED = UNRENDERABLE_WITH_THINK.replace("<think>\\n", "")

ALL_TEMPLATES = [CHAT_TEMPLATE, CHAT_TEMPLATE_WITH_THINK, QWQ_LIKE_WITH_THINK, QWQ_LIKE_FIXED]


@pytest.mark.parametrize("template, adds", [
    (CHAT_TEMPLATE, False),
    (CHAT_TEMPLATE_WITH_THINK, True),
    (QWQ_LIKE_WITH_THINK, True),
    (QWQ_LIKE_FIXED, False),
    (UNRENDERABLE_WITH_THINK, True),
    (UNRENDERABLE_FIXED, False),
    ("{{ messages[0]['content'] }}", False),
])
def test_template_adds_think_detects_the_generation_branch(template, adds):
    assert template_adds_think(template) is adds


def test_generation_prompt_is_what_add_generation_prompt_appends():
    assert generation_prompt(QWQ_LIKE_WITH_THINK) == "<|im_start|>assistant\n<think>\n"
    assert generation_prompt(CHAT_TEMPLATE) == "<|im_start|>assistant\n"


@pytest.mark.parametrize("template", [None, *ALL_TEMPLATES, UNRENDERABLE_WITH_THINK])
def test_flappy_bird_prompt_wraps_identically_for_every_template(template):
    prompt = load_prompt("flappy_bird")
    assert wrap_prompt(prompt, template=template) == prompt.wrapped()


def test_assistant_history_loses_its_reasoning_like_qwq():
    messages = [{"role": "user", "content": "a"},
                {"role": "assistant", "content": "<think>\nhmm\n</think>\n\nanswer"},
                {"role": "user", "content": "b"}]
    rendered = render_chat(QWQ_LIKE_WITH_THINK, messages, add_generation_prompt=False)
    assert "hmm" not in rendered and "<|im_start|>assistant\nanswer<|im_end|>" in rendered


@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=200),
       template=st.sampled_from([None, *ALL_TEMPLATES]))
def test_wrapped_prompt_opens_think_exactly_once_and_keeps_the_text(text, template):
    wrapped = wrap_prompt(text, template=template)
    assert wrapped.endswith("<|im_start|>assistant\n<think>\n")
    assert not wrapped.endswith("<think>\n<think>\n")
    assert wrapped.startswith("<|im_start|>user\n" + text)


@given(header=st.text(alphabet="abc<>|_ \n", max_size=20), think=st.booleans(),
       newline=st.booleans())
def test_detection_follows_the_last_thing_the_branch_emits(header, think, newline):
    tail = "<think>" + ("\\n" if newline else "") if think else ""
    template = ("{%- for m in messages %}{{ m.content }}{%- endfor %}"
                "{%- if add_generation_prompt %}{{- '" + header.replace("\n", "\\n")
                + "assistant\\n" + tail + "' }}{%- endif %}")
    assert template_adds_think(template) is think
