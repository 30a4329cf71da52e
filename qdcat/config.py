"""Configuration: where the catalog database and the time-tag store live.

This module is the only place that reads the environment or the config file.
Resolution order, first wins: explicit arguments, environment variables,
the config file ``<home>/qdcat.toml``, built-in defaults (an embedded SQLite
file and a local zarr store inside the catalog directory).
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from qdcat.errors import ConfigError

ENV_HOME = "QDCAT_HOME"
ENV_DATABASE_URL = "QDCAT_DATABASE_URL"
ENV_STORE_URL = "QDCAT_STORE_URL"
ENV_USER = "QDCAT_USER"
CONFIG_FILENAME = "qdcat.toml"
DEFAULT_DB_FILENAME = "catalog.sqlite"
DEFAULT_STORE_DIRNAME = "store"


def default_home() -> Path:
    return Path.home() / ".qdcat"


@dataclass(frozen=True)
class Config:
    """Resolved configuration; ``sources`` says where each value came from."""

    home: Path
    database_url: str
    store_url: str
    sources: Mapping[str, str] = field(default_factory=dict)
    user: str = ""  # who the catalog's history names for changes made through this configuration

    @property
    def config_file(self) -> Path:
        return self.home / CONFIG_FILENAME

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def describe(self) -> dict[str, str]:
        """Plain-text view for ``qdcat db status`` (the password, if any, hidden)."""
        return {
            "home": str(self.home),
            "database_url": redact_url(self.database_url),
            "database_url_from": self.sources.get("database_url", "default"),
            "store_url": self.store_url,
            "store_url_from": self.sources.get("store_url", "default"),
        }


def redact_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def _without_password(url: str) -> tuple[str, bool]:
    """``url`` without its password, and whether it had one."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return url, False
    if parsed.password is None:
        return url, False
    return parsed._replace(password=None).render_as_string(hide_password=False), True


def normalize_database_url(url: str, *, base: Path | None = None) -> str:
    """Validate a database URL and pick qdcat's driver for PostgreSQL.

    ``postgresql://`` and ``postgres://`` become ``postgresql+psycopg://``
    (psycopg 3 is the installed driver); a relative SQLite path is made
    absolute against ``base`` so the catalog does not depend on the cwd.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    url = url.strip()
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"database URL {url!r} is not a valid URL; use e.g. "
            "'sqlite:////path/catalog.sqlite' or 'postgresql://user@host:5432/dbname'"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed.render_as_string(hide_password=False)
    if backend == "sqlite":
        db = parsed.database
        if not db or db == ":memory:" or db.startswith("file:") or parsed.query:
            return url
        path = Path(db).expanduser()
        if not path.is_absolute():
            path = (base or Path.cwd()) / path
        return f"{parsed.drivername}:///{path.resolve()}"
    raise ConfigError(
        f"database backend {backend!r} is not supported; qdcat runs on SQLite (the default) "
        "or PostgreSQL (set QDCAT_DATABASE_URL=postgresql://user@host:5432/dbname)"
    )


def normalize_store_url(url: str, *, base: Path | None = None) -> str:
    """A local path becomes an absolute path; anything with a scheme is left to fsspec."""
    url = url.strip()
    if not url:
        raise ConfigError("store URL is empty; give a directory or an fsspec URL such as s3://bucket/qdcat")
    if "://" in url:
        if url.startswith("file://"):
            return str(Path(url[len("file://") :]).expanduser().resolve())
        return url.rstrip("/")
    path = Path(url).expanduser()
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    return str(path.resolve())


def _read_config_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}; fix or delete it") from exc
    section = data.get("catalog", {})
    if not isinstance(section, dict):
        raise ConfigError(f"config file {path}: [catalog] must be a table")
    unknown = set(section) - {"database_url", "store_url"}
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown key(s) {sorted(unknown)} in [catalog]; "
            "valid keys are database_url and store_url"
        )
    out: dict[str, str] = {}
    for key in ("database_url", "store_url"):
        if key in section:
            if not isinstance(section[key], str):
                raise ConfigError(f"config file {path}: {key} must be a string")
            out[key] = section[key]
    return out


def load_config(
    home: str | os.PathLike[str] | None = None,
    *,
    database_url: str | None = None,
    store_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Resolve the configuration (see the module docstring for the order)."""
    env = os.environ if environ is None else environ
    sources: dict[str, str] = {}
    if home is not None:
        home_path = Path(home).expanduser()
    elif env.get(ENV_HOME):
        home_path = Path(env[ENV_HOME]).expanduser()
    else:
        home_path = default_home()
    home_path = home_path.resolve()
    file_values = _read_config_file(home_path / CONFIG_FILENAME)

    def pick(name: str, explicit: str | None, env_name: str, default: str) -> tuple[str, str]:
        if explicit:
            return explicit, "argument"
        if env.get(env_name):
            return env[env_name], f"environment ({env_name})"
        if name in file_values:
            return file_values[name], f"config file ({home_path / CONFIG_FILENAME})"
        return default, "default"

    db_raw, sources["database_url"] = pick(
        "database_url",
        database_url,
        ENV_DATABASE_URL,
        f"sqlite:///{home_path / DEFAULT_DB_FILENAME}",
    )
    store_raw, sources["store_url"] = pick(
        "store_url", store_url, ENV_STORE_URL, str(home_path / DEFAULT_STORE_DIRNAME)
    )
    user, sources["user"] = pick("user", None, ENV_USER, _os_user())
    return Config(
        home=home_path,
        database_url=normalize_database_url(db_raw, base=home_path),
        store_url=normalize_store_url(store_raw, base=home_path),
        sources=sources,
        user=user.strip()[:100] or _os_user(),
    )


def _os_user() -> str:
    """The operating-system user (the history's default 'who')."""
    import getpass

    try:
        return getpass.getuser()[:100] or "unknown"
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def write_config_file(config: Config) -> Path:
    """Write ``qdcat.toml`` recording the non-default locations (idempotent)."""
    path = config.config_file
    lines = [
        "# qdcat catalog configuration. Environment variables QDCAT_DATABASE_URL and",
        "# QDCAT_STORE_URL override these values.",
        "[catalog]",
    ]
    default_db = f"sqlite:///{config.home / DEFAULT_DB_FILENAME}"
    if config.database_url != default_db:
        url, had_password = _without_password(config.database_url)
        if had_password:
            # A password does not belong in a file others may read; a redacted one ("***")
            # would be sent as the password. libpq finds it in ~/.pgpass or PGPASSWORD.
            lines.append(
                "# the password is not kept here: put it in ~/.pgpass, PGPASSWORD or QDCAT_DATABASE_URL"
            )
        lines.append(f"database_url = {json.dumps(url)}")
    else:
        lines.append(f'# database_url = "{default_db}"')
    if config.store_url != str(config.home / DEFAULT_STORE_DIRNAME):
        lines.append(f"store_url = {json.dumps(config.store_url)}")
    else:
        lines.append(f'# store_url = "{config.home / DEFAULT_STORE_DIRNAME}"')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
