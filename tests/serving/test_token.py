"""The bearer token: from PTXSEG_TOKEN or the file PTXSEG_TOKEN_FILE names; a setup that would run the server open
or with a guessable token is an error."""

from __future__ import annotations

import pytest

from ptxseg.serving.token import MIN_TOKEN_LENGTH, configured_token

TOKEN = "x" * MIN_TOKEN_LENGTH


def test_the_variable_wins_over_the_file_and_a_file_is_read_without_its_newline(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("y" * MIN_TOKEN_LENGTH + "\n")
    assert configured_token({"PTXSEG_TOKEN": TOKEN, "PTXSEG_TOKEN_FILE": str(token_file)}) == TOKEN
    assert configured_token({"PTXSEG_TOKEN_FILE": str(token_file)}) == "y" * MIN_TOKEN_LENGTH
    assert configured_token({}) is None


@pytest.mark.parametrize(
    ("environ", "words"),
    [
        ({"PTXSEG_TOKEN_FILE": "{root}/none"}, "cannot be read"),
        ({"PTXSEG_TOKEN_FILE": "{root}/empty"}, "is empty: the server would run without a token"),
        ({"PTXSEG_TOKEN": "letmein"}, f"the bearer token has 7 characters; use at least {MIN_TOKEN_LENGTH}"),
    ],
)
def test_an_unsafe_token_setup_is_refused(tmp_path, environ, words):
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValueError, match=words):
        configured_token({key: value.format(root=tmp_path) for key, value in environ.items()})
