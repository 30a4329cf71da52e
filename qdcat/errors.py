"""The one exception root of qdcat and its subclasses.

Every message says what went wrong *and what to do next*; the CLI prints it as
one line without a traceback.
"""

from __future__ import annotations


class QdcatError(Exception):
    """Root of every error qdcat raises on purpose."""


class ConfigError(QdcatError):
    """The configuration (environment, config file, URL) is unusable."""


class CatalogNotFoundError(QdcatError):
    """No catalog exists at the configured location."""


class SchemaOutdatedError(QdcatError):
    """The database schema is older (or newer) than this version of qdcat."""


class NotFoundError(QdcatError, LookupError):
    """A named sample, specimen, dot, setup or measurement does not exist."""


class AlreadyExistsError(QdcatError):
    """A record with the same unique name already exists."""


class InvalidValueError(QdcatError, ValueError):
    """A value is out of range, of the wrong kind or inconsistent."""


class InUseError(QdcatError):
    """A record cannot be deleted because other records (or raw data) depend on it."""


class StoreError(QdcatError):
    """The time-tag store is unreachable, inconsistent or was asked to overwrite data."""


class DatabaseUnavailableError(QdcatError):
    """The catalog database cannot be reached (server down, network, restart in progress)."""


class OutOfSpaceError(QdcatError, OSError):
    """A disk (the catalog file's or the store's) is full; nothing half-written was kept."""


class IntegrityError(StoreError):
    """Stored data do not match the checksum recorded in the catalog."""


class ReaderError(QdcatError):
    """An instrument file is truncated, corrupt or of an unsupported kind."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")
