"""Export a measurement's time tags as Photon-HDF5 (the open interchange format)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from qdcat.catalog.api import Catalog
from qdcat.errors import InvalidValueError
from qdcat.ingest.base import EventBlock


def export_photon_hdf5(
    cat: Catalog, measurement_id: int, path: str | Path, *, overwrite: bool = False
) -> Path:
    """Write measurement ``measurement_id`` to ``path`` as Photon-HDF5 (phconvert validates it in the tests).

    Reading it back with :func:`qdcat.ingest.photon_hdf5.open_photon_hdf5` gives the
    stored timestamps, channels and nanotimes bit for bit.
    """
    from qdcat.ingest.photon_hdf5 import write_photon_hdf5

    m = cat.get_measurement(measurement_id)
    raw = m["raw_data"]
    if raw is None or raw["data_kind"] != "timetags":
        raise InvalidValueError(f"measurement {measurement_id} has no time tags to export")
    reader = cat.open_timetags(measurement_id)
    snapshot = (m["settings"] or {}).get("snapshot") or {}
    file_info = snapshot.get("file") or {}
    roles = {c: r.value for c, r in cat.channel_roles(m["setup"]).items()} if m["setup"] else None
    rep_mhz = (m["settings"] or {}).get("repetition_rate_mhz")
    sync_rate_hz = file_info.get("sync_rate_hz") or (rep_mhz * 1e6 if rep_mhz else None)

    def blocks() -> Iterator[EventBlock]:
        for chunk in reader.iter_chunks():
            yield EventBlock(chunk.timestamps_ps, chunk.channels, chunk.nanotimes)

    where = "/".join(x for x in (m["sample"], m["specimen"], m["dot"]) if x)
    kwargs = dict(
        nanotime_resolution_ps=raw["nanotime_resolution_ps"],
        sync_rate_hz=sync_rate_hz,
        acquisition_s=m["duration_s"],
        description=f"qdcat measurement {measurement_id}: {m['kind']} on {where}",
        hardware=file_info.get("hardware"),
        software=file_info.get("software"),
        original_filename=raw["source_filename"],
        channel_roles=roles,
        overwrite=overwrite,
    )
    resolution_ps = float(raw["resolution_ps"])
    try:
        return write_photon_hdf5(path, timestamps_ps=blocks(), resolution_ps=resolution_ps, **kwargs)
    except InvalidValueError as exc:
        if "grid" not in str(exc) and "multiple" not in str(exc):
            raise
        # T3 macrotimes of a sync period that is not a whole number of ps were
        # rounded to the ps at ingest: export them on the 1 ps grid instead.
        return write_photon_hdf5(path, timestamps_ps=blocks(), resolution_ps=1.0, **kwargs)
