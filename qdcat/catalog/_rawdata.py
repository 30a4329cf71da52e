"""Raw data: the write protocol (pending row → store bytes → committed row), reading, purging.

See :mod:`qdcat.catalog.api` for the protocol and why each step comes in its order.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from qdcat.catalog._base import CatalogBase
from qdcat.catalog._parse import parse_enum
from qdcat.catalog._specs import MeasurementSpec, SourceFile
from qdcat.catalog.models import AssetState, DataKind, RawAsset
from qdcat.catalog.records import RawAssetRecord
from qdcat.catalog.types import utcnow
from qdcat.errors import AlreadyExistsError, InvalidValueError, NotFoundError, StoreError

if TYPE_CHECKING:  # the store pulls in zarr and numba: imported when first used, not for a listing
    import numpy as np

    from qdcat.store.timetags import StoredSummary, TimeTagReader, TimeTagWriter


class AlreadyIngestedError(AlreadyExistsError):
    """The same source file (by content checksum) is already in the catalog."""

    def __init__(self, filename: str, measurement_id: int | None) -> None:
        self.filename = filename
        self.measurement_id = measurement_id
        where = f" as measurement {measurement_id}" if measurement_id is not None else ""
        super().__init__(f"{filename} is already in the catalog{where} (same content checksum); skipped")


class TimeTagIngest:
    """Handle yielded by :meth:`Catalog.new_timetag_measurement`."""

    def __init__(self) -> None:
        self._writer: TimeTagWriter | None = None
        self.measurement_id: int | None = None
        self.summary: StoredSummary | None = None
        self.duration_s: float | None = None  # set before the end of the block to override the spec's

    def append(
        self, timestamps_ps: np.ndarray, channels: np.ndarray, nanotimes: np.ndarray | None = None
    ) -> None:
        assert self._writer is not None
        self._writer.append(timestamps_ps, channels, nanotimes)

    @property
    def event_count(self) -> int:
        return self._writer.event_count if self._writer else 0

    def channel_counts(self) -> np.ndarray:
        assert self._writer is not None
        return self._writer.channel_counts()


class RawDataMixin(CatalogBase):
    """Writing, reading and purging raw data in step with the rows that own it."""

    # -- the write protocol --------------------------------------------------------
    def _begin_asset(self, data_kind: DataKind, source: SourceFile | None) -> RawAsset:
        key = f"raw/{uuid.uuid4().hex}"
        with self.session() as s:
            if source is not None:
                existing = s.scalar(
                    select(RawAsset.measurement_id).where(
                        RawAsset.source_sha256 == source.sha256, RawAsset.state == AssetState.COMMITTED
                    )
                )
                if existing is not None:
                    raise AlreadyIngestedError(source.filename, existing)
            asset = RawAsset(
                state=AssetState.PENDING,
                data_kind=data_kind,
                store_path=key,
                source_filename=source.filename if source else None,
                source_format=source.format if source else None,
                source_sha256=source.sha256 if source else None,
                source_size_bytes=source.size_bytes if source else None,
                writer_host=socket.gethostname(),
                writer_pid=os.getpid(),
            )
            s.add(asset)
            s.flush()
            return asset

    def _commit_asset(
        self,
        asset_id: int,
        spec: MeasurementSpec,
        summary: StoredSummary,
        *,
        resolution_ps: float | None,
        nanotime_resolution_ps: float | None,
        has_nanotimes: bool,
    ) -> int:
        try:
            with self.session() as s:
                m = self._resolve_measurement(s, spec)
                s.add(m)
                s.flush()
                asset = s.get(RawAsset, asset_id)
                if asset is None or asset.state is not AssetState.PENDING:
                    raise StoreError(
                        f"raw asset {asset_id} vanished while being written (was `qdcat gc` run "
                        "with --all-pending during the ingest?); ingest the file again"
                    )
                # Read before the flush: after a failed flush the session is unusable.
                source_name, has_source = asset.source_filename, asset.source_sha256 is not None
                asset.measurement_id = m.id
                asset.state = AssetState.COMMITTED
                asset.event_count = summary.event_count
                asset.channel_counts = {str(c): int(k) for c, k in summary.channel_counts.items()}
                asset.resolution_ps = resolution_ps
                asset.nanotime_resolution_ps = nanotime_resolution_ps
                asset.has_nanotimes = has_nanotimes
                asset.data_sha256 = summary.data_sha256
                asset.stored_bytes = summary.stored_bytes
                asset.committed_at = utcnow()
                asset.writer_host = None
                asset.writer_pid = None
                try:
                    s.flush()
                except sa_exc.IntegrityError as exc:
                    if has_source:  # a concurrent ingest of the same file committed first
                        raise AlreadyIngestedError(source_name or "?", None) from exc
                    raise
                return m.id
        except BaseException:
            self._discard_asset(asset_id)
            raise

    def _discard_asset(self, asset_id: int) -> None:
        """Remove a pending asset's bytes, then its row (order matters for gc)."""
        with self.session() as s:
            asset = s.get(RawAsset, asset_id)
            if asset is None or asset.state is AssetState.COMMITTED:
                return
            key = asset.store_path
        self.store.delete(key)
        with self.session() as s:
            asset = s.get(RawAsset, asset_id)
            if asset is not None and asset.state is not AssetState.COMMITTED:
                s.delete(asset)

    @contextmanager
    def new_timetag_measurement(
        self,
        spec: MeasurementSpec,
        *,
        resolution_ps: float,
        source: SourceFile | None = None,
        nanotime_dtype: str | None = None,
        nanotime_resolution_ps: float | None = None,
        chunk_events: int | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> Iterator[TimeTagIngest]:
        """Stream time tags into a new measurement; all or nothing.

        ``with cat.new_timetag_measurement(spec, resolution_ps=1) as w: w.append(t, ch)``
        — on a clean exit the measurement exists with its committed raw data
        (``w.measurement_id``); on any exception neither does.
        """
        # Resolve names first so a typo fails before any byte is written.
        with self.session() as s:
            self._resolve_measurement(s, spec)
        asset = self._begin_asset(DataKind.TIMETAGS, source)
        ingest = TimeTagIngest()
        try:
            kwargs: dict[str, Any] = {}
            if chunk_events is not None:
                kwargs["chunk_events"] = chunk_events
            writer = self.store.create_timetags(
                asset.store_path,
                resolution_ps=resolution_ps,
                nanotime_dtype=nanotime_dtype,
                nanotime_resolution_ps=nanotime_resolution_ps,
                attrs=attrs,
                **kwargs,
            )
            ingest._writer = writer
            with writer:
                yield ingest
                summary = writer.commit()
        except BaseException:
            self._discard_asset(asset.id)
            raise
        if ingest.duration_s is not None:  # what the data showed, set by the writer's caller
            spec = replace(spec, duration_s=ingest.duration_s)
        ingest.measurement_id = self._commit_asset(
            asset.id,
            spec,
            summary,
            resolution_ps=resolution_ps,
            nanotime_resolution_ps=nanotime_resolution_ps,
            has_nanotimes=nanotime_dtype is not None,
        )
        ingest.summary = summary

    def add_array_measurement(
        self,
        spec: MeasurementSpec,
        arrays: Mapping[str, np.ndarray],
        *,
        data_kind: DataKind | str = DataKind.SPECTRUM,
        source: SourceFile | None = None,
        attrs: Mapping[str, Any] | None = None,
    ) -> int:
        """A measurement whose raw data are a few 1-D arrays (a spectrum, a curve)."""
        kind = parse_enum(DataKind, data_kind, "data kind")
        if kind is DataKind.TIMETAGS:
            raise InvalidValueError("time tags are written with new_timetag_measurement()")
        if kind is DataKind.SPECTRUM and set(arrays) != {"wavelength_nm", "counts"}:
            raise InvalidValueError(f"a spectrum needs arrays wavelength_nm and counts, got {sorted(arrays)}")
        with self.session() as s:
            self._resolve_measurement(s, spec)
        asset = self._begin_asset(kind, source)
        try:
            summary = self.store.write_arrays(asset.store_path, arrays, attrs=attrs)
        except BaseException:
            self._discard_asset(asset.id)
            raise
        return self._commit_asset(
            asset.id, spec, summary, resolution_ps=None, nanotime_resolution_ps=None, has_nanotimes=False
        )

    # -- reading -------------------------------------------------------------------
    def raw_asset(self, measurement_id: int) -> RawAssetRecord:
        """The committed raw data of a measurement (store path, checksums, counts)."""
        raw = self.get_measurement(measurement_id).raw_data
        if raw is None:
            raise NotFoundError(f"measurement {measurement_id} has no raw data")
        return raw

    def open_timetags(self, measurement_id: int) -> TimeTagReader:
        """A :class:`~qdcat.store.TimeTagReader` over a measurement's time tags."""
        raw = self.raw_asset(measurement_id)
        if raw.data_kind is not DataKind.TIMETAGS:
            raise InvalidValueError(
                f"measurement {measurement_id} holds {raw.data_kind.value} data, not time tags"
            )
        return self.store.open_timetags(raw.store_path)

    def read_arrays(self, measurement_id: int) -> dict[str, np.ndarray]:
        raw = self.raw_asset(measurement_id)
        return self.store.read_arrays(raw.store_path)

    # -- removal -------------------------------------------------------------------
    def _purge_deleting(self, asset_ids: Iterable[int] | None = None) -> list[str]:
        with self.session() as s:
            q = select(RawAsset).where(RawAsset.state == AssetState.DELETING)
            if asset_ids is not None:
                q = q.where(RawAsset.id.in_(list(asset_ids)))
            todo = [(a.id, a.store_path) for a in s.scalars(q)]
        done = []
        for asset_id, key in todo:
            self.store.delete(key)
            with self.session() as s:
                a = s.get(RawAsset, asset_id)
                if a is not None:
                    s.delete(a)
            done.append(key)
        return done
