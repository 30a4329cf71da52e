"""The raw-data store (zarr v3): time tags and small curves, write-once."""

from qdcat.store.timetags import (
    DEFAULT_CHUNK_EVENTS,
    StoredSummary,
    TimeTagChunk,
    TimeTagReader,
    TimeTagStore,
    TimeTagWriter,
)

__all__ = [
    "DEFAULT_CHUNK_EVENTS",
    "StoredSummary",
    "TimeTagChunk",
    "TimeTagReader",
    "TimeTagStore",
    "TimeTagWriter",
]
