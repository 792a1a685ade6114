"""``ptxseg serve``'s access options: the allow-lists become their conf keys, the token is generated unless given,
and ``--no-token`` is refused where it would expose the data."""

from __future__ import annotations

import pytest

from ptxseg.cli import serve as cli_serve
from ptxseg.cli.main import build_parser, main
from ptxseg.serving.token import TOKEN_FILE_NAME


def _args(*arguments):
    return build_parser().parse_args(["serve", *arguments])


def test_the_allow_lists_join_their_conf_keys():
    args = _args(
        "--allow-origin", "http://a.example", "--allow-origin", "http://b.example", "--allow-host", "cxr.example",
        "--conf", "allow_origins", "http://c.example",
    )  # fmt: skip
    conf = cli_serve._with_access_lists(dict(args.conf), args)
    assert conf == {"allow_origins": "http://c.example,http://a.example,http://b.example", "allow_hosts": "cxr.example"}


def test_a_token_is_generated_into_a_0600_file_unless_one_is_given(tmp_path, monkeypatch):
    monkeypatch.delenv("PTXSEG_TOKEN", raising=False)
    monkeypatch.delenv("PTXSEG_TOKEN_FILE", raising=False)
    token, generated = cli_serve._server_token(_args(), tmp_path)
    assert generated and (tmp_path / TOKEN_FILE_NAME).read_text() == token
    assert (tmp_path / TOKEN_FILE_NAME).stat().st_mode & 0o777 == 0o600
    assert cli_serve.os.environ["PTXSEG_TOKEN_FILE"] == str(tmp_path / TOKEN_FILE_NAME)
    again, _ = cli_serve._server_token(_args(), tmp_path)  # now given by the file: used, not replaced
    assert again == token

    monkeypatch.setenv("PTXSEG_TOKEN", "my-own-token-of-some-length")
    monkeypatch.delenv("PTXSEG_TOKEN_FILE")
    assert cli_serve._server_token(_args(), tmp_path) == ("my-own-token-of-some-length", False)


def test_no_token_is_for_loopback_only_and_not_beside_a_token(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("PTXSEG_TOKEN", raising=False)
    monkeypatch.delenv("PTXSEG_TOKEN_FILE", raising=False)
    assert cli_serve._server_token(_args("--no-token"), tmp_path) == (None, False)
    assert "--no-token" in capsys.readouterr().out and not (tmp_path / TOKEN_FILE_NAME).exists()
    with pytest.raises(ValueError, match="without a token: drop --no-token"):
        cli_serve._server_token(_args("--no-token", "--host", "0.0.0.0"), tmp_path)
    monkeypatch.setenv("PTXSEG_TOKEN", "my-own-token-of-some-length")
    with pytest.raises(ValueError, match="drop one of them"):
        cli_serve._server_token(_args("--no-token"), tmp_path)


def test_the_server_learns_its_bind_address():
    assert cli_serve.server_environment(cli_serve.Path("."), {}, 8000, "0.0.0.0")["PTXSEG_SERVER_HOST"] == "0.0.0.0"


def test_keycloak_replaces_the_token_and_is_not_combined_with_one(tmp_path, monkeypatch):
    monkeypatch.setenv("MONAI_LABEL_AUTH_ENABLE", "true")
    monkeypatch.delenv("PTXSEG_TOKEN", raising=False)
    monkeypatch.delenv("PTXSEG_TOKEN_FILE", raising=False)
    assert cli_serve._server_token(_args("--host", "0.0.0.0"), tmp_path) == (None, False)
    monkeypatch.setenv("PTXSEG_TOKEN", "my-own-token-of-some-length")
    with pytest.raises(ValueError, match="use one of them"):
        cli_serve._server_token(_args(), tmp_path)


@pytest.mark.parametrize("command", [["serve"], ["export-dataset", "--studies", ".", "--out", "out", "--deidentify"]])
def test_pacs_flags_without_a_pacs_are_refused_not_ignored(command, monkeypatch, capsys):
    monkeypatch.delenv("PTXSEG_DICOMWEB_URL", raising=False)
    assert main([*command, "--dicomweb-user", "ptxseg", "--dicomweb-ca-bundle", "ca.pem"]) != 0
    assert "--dicomweb-user and --dicomweb-ca-bundle apply to a PACS only" in capsys.readouterr().err
