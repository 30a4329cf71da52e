"""Configuration resolution: arguments > environment > config file > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from qdcat.config import load_config, normalize_database_url, write_config_file
from qdcat.errors import ConfigError


def test_defaults_are_embedded(tmp_path: Path) -> None:
    cfg = load_config(tmp_path, environ={})
    assert cfg.database_url == f"sqlite:///{tmp_path.resolve() / 'catalog.sqlite'}"
    assert cfg.store_url == str(tmp_path.resolve() / "store")
    assert cfg.sources["database_url"] == "default"


def test_home_from_environment(tmp_path: Path) -> None:
    cfg = load_config(environ={"QDCAT_HOME": str(tmp_path)})
    assert cfg.home == tmp_path.resolve()


def test_precedence(tmp_path: Path) -> None:
    (tmp_path / "qdcat.toml").write_text(
        '[catalog]\ndatabase_url = "postgresql://u@h/fromfile"\nstore_url = "s3://bucket/file"\n'
    )
    cfg = load_config(tmp_path, environ={})
    assert cfg.database_url == "postgresql+psycopg://u@h/fromfile"
    assert cfg.store_url == "s3://bucket/file"
    assert "config file" in cfg.sources["database_url"]
    env = {"QDCAT_DATABASE_URL": "postgresql://u@h/fromenv", "QDCAT_STORE_URL": "rel/store"}
    cfg = load_config(tmp_path, environ=env)
    assert cfg.database_url.endswith("/fromenv")
    assert cfg.store_url == str((tmp_path / "rel/store").resolve())
    cfg = load_config(tmp_path, environ=env, database_url="sqlite:///x.sqlite")
    assert cfg.database_url == f"sqlite:///{(tmp_path / 'x.sqlite').resolve()}"
    assert cfg.sources["database_url"] == "argument"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u@h:5432/db", "postgresql+psycopg://u@h:5432/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
    ],
)
def test_normalize_database_url(url: str, expected: str) -> None:
    assert normalize_database_url(url) == expected


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("[catalog\n", "not valid TOML"),
        ('[catalog]\ndatabse_url = "x"\n', "unknown key"),
        ("[catalog]\ndatabase_url = 3\n", "must be a string"),
    ],
)
def test_bad_config_file(tmp_path: Path, content: str, match: str) -> None:
    (tmp_path / "qdcat.toml").write_text(content)
    with pytest.raises(ConfigError, match=match):
        load_config(tmp_path, environ={})


def test_unsupported_backend(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not supported"):
        load_config(tmp_path, environ={"QDCAT_DATABASE_URL": "mysql://root@localhost/x"})
    with pytest.raises(ConfigError, match="not a valid URL"):
        load_config(tmp_path, environ={"QDCAT_DATABASE_URL": "::nonsense"})


def test_written_config_file_round_trips(tmp_path: Path) -> None:
    cfg = load_config(tmp_path, environ={}, database_url="postgresql://u@h/db", store_url="memory://x")
    write_config_file(cfg)
    again = load_config(tmp_path, environ={})
    assert again.database_url == cfg.database_url
    assert again.store_url == cfg.store_url


def test_a_password_is_not_written_to_the_config_file(tmp_path: Path) -> None:
    """A password given at init stays out of qdcat.toml (and is not replaced by a bogus '***')."""
    cfg = load_config(tmp_path, environ={}, database_url="postgresql://u:s3cret@h/db")
    text = write_config_file(cfg).read_text()
    assert "s3cret" not in text and "***" not in text
    again = load_config(tmp_path, environ={})
    assert again.database_url == "postgresql+psycopg://u@h/db"
