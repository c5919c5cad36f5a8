"""The prompt files and their loader: a prompt by name or by path, and one-line errors for the
user's mistakes in either."""

from __future__ import annotations

import pytest

from pipeline.errors import UsageError
from prompts import DEFAULT_PROMPT, available, load_prompt

GOOD = 'name = "mine"\ntext = "Write a game."\nchat = "<u>{prompt}</u>"\n'


def test_the_default_prompt_is_listed_and_wraps_its_text_in_the_chat_template():
    assert DEFAULT_PROMPT in available()
    prompt = load_prompt()
    assert prompt.text.startswith("Create a Flappy Bird game in Python.")
    assert prompt.wrapped() == prompt.chat.replace("{prompt}", prompt.text)
    assert prompt.wrapped().endswith("<|im_start|>assistant\n<think>\n")


def test_a_prompt_file_given_by_path_is_loaded(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(GOOD, encoding="utf-8")
    assert load_prompt(str(path)).wrapped() == "<u>Write a game.</u>"


@pytest.mark.parametrize(("content", "message"), [
    ('name = "x"\ntext = "t"\n', "no chat = ... key"),
    ("name = ", "prompt file"),
    ('name = 5\ntext = "t"\nchat = "{prompt}"\n', "name must be a string"),
    ('name = "x"\ntext = "t"\nchat = "<u>"\n', "chat must contain {prompt}"),
])
def test_a_malformed_prompt_file_is_a_usage_error(tmp_path, content, message):
    path = tmp_path / "bad.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        load_prompt(str(path))


def test_an_unreadable_prompt_file_is_a_usage_error(tmp_path):
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe\x00name")
    (tmp_path / "dir.toml").mkdir()
    for name in ("binary.toml", "dir.toml"):
        with pytest.raises(UsageError, match="cannot be read"):
            load_prompt(str(tmp_path / name))


@pytest.mark.parametrize("name", ["nope", "../pyproject", "missing.toml"])
def test_an_unknown_prompt_name_lists_the_known_ones(name):
    with pytest.raises(UsageError, match=f"unknown prompt.*{DEFAULT_PROMPT}"):
        load_prompt(name)
