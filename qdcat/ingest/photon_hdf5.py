"""Photon-HDF5: read single-spot files block by block, and write qdcat events as Photon-HDF5.

Owns the mapping between Photon-HDF5's ``photon_data`` arrays and qdcat's event conventions
(:mod:`qdcat.ingest.base`). Reading and writing use h5py alone: importing phconvert compiles numba
code for seconds, so qdcat imports it only where its header parsers are used (the legacy formats),
never for export. The writer produces the layout phconvert's ``save_photon_hdf5`` writes for the same
fields (names, dtypes, the spec's descriptions as TITLE, zlib-compressed photon arrays); phconvert is
the independent validator of every file it writes in the tests.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from qdcat._json import jsonable
from qdcat.errors import InvalidValueError, ReaderError
from qdcat.ingest.base import (
    DEFAULT_BLOCK_RECORDS,
    MARKER_BASE,
    UNIT_RANGE_PS,
    EventBlock,
    FileHeader,
    format_boundary,
    one_line,
)

__all__ = ["MEASUREMENT_TYPE", "PhotonHDF5Source", "open_photon_hdf5", "write_photon_hdf5"]

#: Written files say "generic": qdcat records channel roles per setup (``channel_roles``), not the
#: spectral/polarization split the smFRET measurement types of Photon-HDF5 require.
MEASUREMENT_TYPE = "generic"

_USER = "user/qdcat"  # qdcat's own fields; the Photon-HDF5 spec leaves /user free-form
_CHANNEL_CONVENTION = (
    "detectors are qdcat channels: 0..63 detector inputs, 64 the sync, 64 + j marker bit j; "
    "sync and marker events are stored as pseudo-detectors (as phconvert does for markers)"
)
_MAX_PS = float(2**63 - 1)
_REEXPORT = "copy it again, or re-export it from its source"
_PHOTON_ARRAYS = ("timestamps", "detectors", "nanotimes", "particles")

# --- what the writer puts in every file, as phconvert 0.10's save_photon_hdf5 does ---------------

_FORMAT = {"format_name": "Photon-HDF5", "format_version": "0.5", "format_url": "http://photon-hdf5.org/"}
_EXISTS = "{} exists; choose another file name, or replace it with --overwrite"

#: The TITLE attribute of every field qdcat writes: the field's description in the official
#: Photon-HDF5 0.5 specs, copied from phconvert 0.10.2's ``phconvert/specs/photon-hdf5_specs.json``
#: (for ``spectral_ch1`` as phconvert fills in its ``{NTH}``/``{DA}`` templates) so that writing needs
#: no phconvert import. Keys are HDF5 paths without the leading "/" ("" is the root group). Fields
#: under /user have no description (phconvert writes an empty TITLE there). The tests compare these
#: with phconvert's own and validate every written file with phconvert's validator, which requires
#: each TITLE to match the specs exactly.
_SPEC_TITLES: dict[str, str] = {
    "": "A file format for photon-counting detector based single-molecule spectroscopy experiments.",
    "description": "A user-defined comment describing the data file.",
    "acquisition_duration": "Measurement duration in seconds.",
    "format_name": "Name of the file format.",
    "format_version": "Version for the Photon-HDF5 format.",
    "photon_data": "Group containing arrays of photon-data.",
    "photon_data/timestamps": (
        "Array of photon timestamps. Units specified in timestamps_units (defined in timestamps_specs/)."
    ),
    "photon_data/detectors": "Array of pixel IDs for each timestamp.",
    "photon_data/nanotimes": (
        "TCSPC photon arrival time (nanotimes). Units and other specifications are in nanotimes_specs group."
    ),
    "photon_data/timestamps_specs": "Specifications for timestamps.",
    "photon_data/timestamps_specs/timestamps_unit": "Value of 1-unit timestamp-increment in seconds.",
    "photon_data/nanotimes_specs": "Group for nanotime-specific data.",
    "photon_data/nanotimes_specs/tcspc_unit": (
        "Value of 1-unit nanotime-increment in seconds (TCSPC bin size)."
    ),
    "photon_data/nanotimes_specs/tcspc_num_bins": "Number of TCSPC bins.",
    "photon_data/nanotimes_specs/tcspc_range": "TCSPC full-scale range in seconds.",
    "photon_data/measurement_specs": (
        "Metadata necessary for interpretation of the particular type of measurement."
    ),
    "photon_data/measurement_specs/measurement_type": "Name of the measurement the data represents.",
    "photon_data/measurement_specs/laser_repetition_rate": (
        "Repetition rate of the pulsed excitation laser (in Hertz)."
    ),
    "photon_data/measurement_specs/detectors_specs": (
        "Mapping between the pixel IDs and the detection channels."
    ),
    "photon_data/measurement_specs/detectors_specs/spectral_ch1": (
        "Pixel IDs for the first spectral channel (i.e. donor in a 2-color smFRET measurement)."
    ),
    "setup": "Information about the experimental setup.",
    "setup/num_pixels": "Total number of detector pixels.",
    "setup/num_spots": 'Number of excitation (or detection) "spots" in the sample.',
    "setup/num_spectral_ch": "Number of distinct spectral bands which are acquired.",
    "setup/num_polarization_ch": "Number of distinct polarization states which are acquired.",
    "setup/num_split_ch": (
        "Number of distinct detection channels detecting the same spectral band and polarization. "
        "This value is > 1 when using a non-polarizing beam splitter."
    ),
    "setup/modulated_excitation": (
        "True (i.e. 1) if there is any form of excitation modulation of excitation wavelength (as in "
        "us-ALEX or PAX) or polarization. This field is also True for pulse-interleaved excitation "
        "(PIE) or ns-ALEX measurements."
    ),
    "setup/excitation_alternated": (
        "New in version 0.5. Indicates whether each excitation source is alternated (True, or 1) or "
        "not alternated (False, or 0)."
    ),
    "setup/lifetime": (
        "True (i.e. 1) if the measurement includes a nanotimes array of photon arrival times with "
        "respect to a laser pulse (as in TCSPC measurements)."
    ),
    "setup/excitation_cw": (
        "For each excitation source, this field indicates whether excitation is continuous wave (CW), "
        "True (i.e. 1), or pulsed, False (i.e. 0)."
    ),
    "setup/laser_repetition_rates": "Repetition rates in Hz for each laser. CW lasers have a value of 0.",
    "setup/detectors": (
        "Metadata relative to each detector's pixel. Each field is an array with size equal to the "
        "number of the detectors."
    ),
    "setup/detectors/id": "Detector IDs as they appear on /photon_data/detectors.",
    "setup/detectors/id_hardware": "Original IDs assigned by the acquisition hardware to each detector.",
    "setup/detectors/counts": "Total number of counts detected by each detector.",
    "setup/detectors/label": "Labels (strings) describing each detector.",
    "identity": "Information about the Photon-HDF5 data file.",
    "identity/author": "Author of the current data file.",
    "identity/author_affiliation": "Company or institution the author is affiliated with.",
    "identity/creation_time": "Creation time of the current Photon-HDF5 file.",
    "identity/software": "Name of the software used to create the current Photon-HDF5 file.",
    "identity/software_version": "Version of the software used to create current the Photon-HDF5 file.",
    "identity/format_name": "Name of the file format.",
    "identity/format_version": "Version for the Photon-HDF5 format.",
    "identity/format_url": "Official URL for the Photon-HDF5 format.",
    "identity/filename": (
        "Original file name of the current Photon-HDF5 file (i.e. file name at creation time)."
    ),
    "identity/filename_full": (
        "Original file name (with full path) of the current Photon-HDF5 file (i.e. full file name at "
        "creation time)."
    ),
    "provenance": "Information about the original data file.",
    "provenance/filename": "File name of the original data file before conversion to Photon-HDF5.",
    "provenance/software": "Software used to save the original data file.",
}


class PhotonHDF5Source:
    """An opened single-spot Photon-HDF5 file; blocks are read from disk as they are asked for."""

    def __init__(self, header: FileHeader, single_channel: int | None) -> None:
        self.header = header
        # Files without a detectors array hold one detector: its id, repeated, is the channel.
        self._single_channel = single_channel

    def __len__(self) -> int:
        return int(self.header.n_records or 0)

    def iter_blocks(self, block_records: int = DEFAULT_BLOCK_RECORDS) -> Iterator[EventBlock]:
        """Read ``timestamps``/``detectors``/``nanotimes`` in slices of at most ``block_records``."""
        if int(block_records) < 1:
            raise InvalidValueError(f"block_records must be at least 1, not {block_records}")
        step = int(block_records)
        path = self.header.path
        resolution_ps = self.header.resolution_ps
        previous_ps = None
        with _open_h5(path) as f, format_boundary(path, "the photon records cannot be read", _REEXPORT):
            group = f["photon_data"]
            timestamps = group["timestamps"]
            detectors = group.get("detectors")
            nanotimes = group.get("nanotimes")
            nanotime_dtype = _nanotime_dtype(nanotimes.dtype) if nanotimes is not None else None
            for start in range(0, timestamps.shape[0], step):
                stop = start + step
                try:
                    counts = np.asarray(timestamps[start:stop]).astype(np.int64)
                    det = None if detectors is None else np.asarray(detectors[start:stop])
                    nano = None if nanotimes is None else np.asarray(nanotimes[start:stop])
                except (OSError, ValueError) as exc:
                    raise ReaderError(
                        path, _unreadable(exc, f"records from {start} on are unreadable")
                    ) from exc
                if counts.size and float(np.abs(counts).max()) * resolution_ps >= _MAX_PS:
                    raise ReaderError(
                        path, "timestamps beyond the int64 picosecond range: the file is corrupt"
                    )
                timestamps_ps = _counts_to_ps(counts, resolution_ps)
                if timestamps_ps.size and (
                    np.any(np.diff(timestamps_ps) < 0)
                    or (previous_ps is not None and timestamps_ps[0] < previous_ps)
                ):
                    raise ReaderError(
                        path, f"timestamps go backwards near record {start}: Photon-HDF5 requires them sorted"
                    )
                if timestamps_ps.size:
                    previous_ps = int(timestamps_ps[-1])
                if det is None:
                    channels = np.full(counts.shape, self._single_channel, dtype=np.uint8)
                else:
                    if det.size and (int(det.min()) < 0 or int(det.max()) > 255):
                        raise ReaderError(path, f"detector ids outside 0..255 near record {start}")
                    channels = det.astype(np.uint8)
                if nano is not None:
                    if nano.size and int(nano.min()) < 0:
                        raise ReaderError(
                            path, f"negative nanotimes near record {start}: the file is corrupt"
                        )
                    nano = nano.astype(nanotime_dtype)
                yield EventBlock(timestamps_ps, channels, nano)


def open_photon_hdf5(path: str | os.PathLike[str]) -> PhotonHDF5Source:
    """Open a single-spot Photon-HDF5 file and read its header (the photon arrays stay on disk).

    Raises :class:`~qdcat.errors.ReaderError` for a truncated, corrupt, multi-spot or
    non-Photon-HDF5 file, naming the HDF5 path of a field that is missing,
    of the wrong kind (a group for a dataset, text for a number) or out of range.
    """
    path = Path(path)
    if not path.is_file():
        raise ReaderError(path, "no such file; check the path")
    with _open_h5(path) as f, format_boundary(path, "the HDF5 metadata cannot be read", _REEXPORT):
        fields = _Fields(path, f)
        group = fields.group("photon_data")
        if group is None:
            if any(name.startswith("photon_data") for name in f):
                raise ReaderError(
                    path,
                    "multi-spot Photon-HDF5 (photon_data0, photon_data1...) is not supported; "
                    "split it into one file per spot",
                )
            raise ReaderError(path, "not a Photon-HDF5 file: it has no /photon_data group")
        timestamps = fields.dataset("photon_data/timestamps")
        if timestamps is None or timestamps.ndim != 1 or timestamps.dtype.kind not in "iu":
            raise ReaderError(path, "/photon_data/timestamps is missing or not a 1-D integer array")
        n = int(timestamps.shape[0])
        for name in ("detectors", "nanotimes"):
            ds = fields.dataset(f"photon_data/{name}")
            if ds is not None and (ds.shape != (n,) or ds.dtype.kind not in "iu"):
                raise ReaderError(
                    path, f"/photon_data/{name} has shape {ds.shape} {ds.dtype}, not ({n},) integers"
                )
        lo, hi = UNIT_RANGE_PS
        unit_s = fields.number(
            "photon_data/timestamps_specs/timestamps_unit", required=True, low=lo * 1e-12, high=hi * 1e-12
        )
        assert unit_s is not None
        # qdcat's own fields (it writes NaN where the unit or the duration was not known)
        fields.group(_USER)
        user_resolution_ps = fields.number(f"{_USER}/resolution_ps", nan_ok=True)
        user_nanotime_ps = fields.number(f"{_USER}/nanotime_resolution_ps", nan_ok=True)
        user_acquisition_s = fields.number(f"{_USER}/acquisition_s", nan_ok=True, low=0.0, high=1e7)
        resolution_ps = _exact(user_resolution_ps, unit_s) or _clean(unit_s * 1e12)

        has_nanotimes = "nanotimes" in group
        nanotime_ps = _nanotime_unit_ps(fields, user_nanotime_ps) if has_nanotimes else None
        sync_rate = _sync_rate_hz(fields)
        acquisition_s = fields.number("acquisition_duration", low=0.0, high=1e7)
        if fields.dataset(f"{_USER}/acquisition_s") is not None:
            acquisition_s = user_acquisition_s
        single_channel = None if "detectors" in group else _single_detector(path, fields)

        software = fields.string(f"{_USER}/software") or fields.string("provenance/software")
        hardware = fields.string(f"{_USER}/hardware")
        version = fields.string("identity/format_version") or fields.string("format_version") or "?"
        measurement_type = fields.string("photon_data/measurement_specs/measurement_type") or "unspecified"
        tags = _collect_tags(f)
        tags["root_attrs"] = {k: jsonable(v) for k, v in f.attrs.items()}
    header = FileHeader(
        path=path,
        format="photon-hdf5",
        mode="T3" if has_nanotimes else "T2",
        resolution_ps=resolution_ps,
        nanotime_resolution_ps=nanotime_ps,
        sync_rate_hz=sync_rate,
        acquisition_s=acquisition_s,
        hardware=hardware,
        software=software,
        record_type=f"Photon-HDF5 {version} ({measurement_type})",
        n_records=n,
        tags=tags,
    )
    return PhotonHDF5Source(header, single_channel)


def _nanotime_unit_ps(fields: _Fields, user_nanotime_ps: float | None) -> float | None:
    """The TCSPC bin width in ps: one unit for the file, or the one every detector shares."""
    lo, hi = UNIT_RANGE_PS
    tcspc_unit = fields.number("photon_data/nanotimes_specs/tcspc_unit", low=lo * 1e-12, high=hi * 1e-12)
    if tcspc_unit is None:  # Photon-HDF5 0.5 also allows one unit per detector
        units = fields.numbers("setup/detectors/tcspc_unit", low=lo * 1e-12, high=hi * 1e-12)
        if units is not None and units.size and np.all(units == units[0]):
            tcspc_unit = float(units[0])
    if tcspc_unit is None:
        return None
    return _exact(user_nanotime_ps, tcspc_unit) or _clean(tcspc_unit * 1e12)


def _sync_rate_hz(fields: _Fields) -> float | None:
    """The laser repetition rate: the measurement's, or the one every laser of the setup shares."""
    sync_rate = fields.number("photon_data/measurement_specs/laser_repetition_rate", low=1e-3, high=1e11)
    if sync_rate is None:
        rates = fields.numbers("setup/laser_repetition_rates", low=1e-3, high=1e11)
        sync_rate = (
            float(rates[0]) if rates is not None and rates.size and np.all(rates == rates[0]) else None
        )
    return sync_rate


def _single_detector(path: Path, fields: _Fields) -> int:
    """The channel of a file without /photon_data/detectors: its setup's only detector."""
    ids = fields.numbers("setup/detectors/id", integer=True)
    ids = np.zeros(1) if ids is None else ids
    if ids.size != 1 or not 0 <= int(ids[0]) < MARKER_BASE:
        raise ReaderError(path, "no /photon_data/detectors array and not exactly one detector in /setup")
    return int(ids[0])


# Long on purpose: most of its length is the keyword signature and the docstring that documents
# each field of the file; the body only checks, gathers and hands the tree to _save.
def write_photon_hdf5(
    path: str | os.PathLike[str],
    *,
    timestamps_ps: np.ndarray | Iterable[EventBlock],
    channels: np.ndarray | None = None,
    nanotimes: np.ndarray | None = None,
    resolution_ps: float,
    nanotime_resolution_ps: float | None = None,
    tcspc_num_bins: int | None = None,
    sync_rate_hz: float | None = None,
    acquisition_s: float | None = None,
    description: str,
    author: str | None = None,
    author_affiliation: str | None = None,
    hardware: str | None = None,
    software: str | None = None,
    original_filename: str | None = None,
    channel_roles: Mapping[int, str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write events in qdcat's conventions as a Photon-HDF5 0.5 file (one that phconvert validates).

    ``timestamps_ps`` is an int64 array (then ``channels`` and, for T3 data, ``nanotimes`` are
    arrays of the same length) or an iterable of :class:`~qdcat.ingest.base.EventBlock` (then
    they come from the blocks). Timestamps are stored as int64 counts of ``resolution_ps``, so
    they must lie on that grid; :func:`open_photon_hdf5` gives back the same int64 ps, channels
    and nanotimes bit for bit. All events are held in memory while writing (they are checked,
    and the per-detector counts taken, before anything is written). The file is written under a
    temporary name next to ``path`` and renamed into place: a failure leaves no partial file, and
    ``overwrite`` replaces an existing file in one step. ``software``/``original_filename``
    describe the acquisition (provenance); ``channel_roles`` (e.g. ``{0: "hbt_a"}``) become the
    detector labels. Nanotimes need
    ``nanotime_resolution_ps`` and ``sync_rate_hz`` (Photon-HDF5 requires the laser repetition
    rate for TCSPC data); ``tcspc_num_bins`` defaults to the next power of two above the largest
    nanotime. Raises :class:`~qdcat.errors.InvalidValueError` for inconsistent input or an
    existing ``path`` without ``overwrite``.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise InvalidValueError(_EXISTS.format(path))
    if not (math.isfinite(resolution_ps) and resolution_ps > 0):
        raise InvalidValueError(f"resolution_ps must be positive and finite, not {resolution_ps}")
    texts = {
        "description": description,
        "identity/author": author,
        "identity/author_affiliation": author_affiliation,
        "user/qdcat/hardware": hardware,
        "provenance/software": software,
        "provenance/filename": original_filename,
    }
    for field, text in texts.items():
        if text is not None:
            _encode(field, text)  # refused before the events are gathered
    ts, ch, nt = _gather(timestamps_ps, channels, nanotimes)
    counts = _ps_to_counts(ts, float(resolution_ps))
    ids, id_counts = np.unique(ch, return_counts=True)
    detector_ids = ids[ids < MARKER_BASE]

    photon_data: dict[str, Any] = {
        "timestamps": counts,
        "detectors": ch,
        "timestamps_specs": {"timestamps_unit": float(resolution_ps) * 1e-12},
        "measurement_specs": {
            "measurement_type": MEASUREMENT_TYPE,
            # One spectral band holding every detector: the roles live in the detector labels.
            "detectors_specs": {"spectral_ch1": detector_ids} if detector_ids.size else {},
        },
    }
    setup = _setup_group(ids, id_counts, detector_ids, nt is not None, sync_rate_hz, channel_roles)
    if sync_rate_hz is not None:
        photon_data["measurement_specs"]["laser_repetition_rate"] = float(sync_rate_hz)
    nanotimes_specs = _nanotimes_specs(nt, nanotime_resolution_ps, sync_rate_hz, tcspc_num_bins)
    if nanotimes_specs is not None:
        photon_data["nanotimes"] = nt
        photon_data["nanotimes_specs"] = nanotimes_specs
    if acquisition_s is not None and not (math.isfinite(acquisition_s) and acquisition_s >= 0):
        raise InvalidValueError(f"acquisition_s must be a non-negative number, not {acquisition_s}")
    span_s = float(ts[-1] - ts[0]) * 1e-12 if ts.size else 0.0
    user = _qdcat_group(
        resolution_ps, nanotime_resolution_ps, acquisition_s, channel_roles, hardware, software
    )
    data: dict[str, Any] = {
        "description": description,
        "acquisition_duration": float(acquisition_s) if acquisition_s is not None else span_s,
        "photon_data": photon_data,
        "setup": setup,
        "identity": {k: v for k, v in (("author", author), ("author_affiliation", author_affiliation)) if v},
        "user": {"qdcat": user},
    }
    provenance = {k: v for k, v in (("filename", original_filename), ("software", software)) if v}
    if provenance:
        data["provenance"] = provenance
    _save(data, path, overwrite)
    return path


# --- writing helpers ---------------------------------------------------------------------------


def _setup_group(
    ids: np.ndarray,
    id_counts: np.ndarray,
    detector_ids: np.ndarray,
    lifetime: bool,
    sync_rate_hz: float | None,
    channel_roles: Mapping[int, str] | None,
) -> dict[str, Any]:
    """The /setup group: one spot, one spectral band, the detectors with their counts and roles."""
    setup: dict[str, Any] = {
        "num_pixels": int(detector_ids.size),
        "num_spots": 1,
        "num_spectral_ch": 1,
        "num_polarization_ch": 1,
        "num_split_ch": 1,
        "modulated_excitation": False,
        "excitation_alternated": [False],
        "lifetime": lifetime,
        "excitation_cw": [sync_rate_hz is None],
        "detectors": {"id": ids, "id_hardware": ids, "counts": id_counts.astype(np.int64)},
    }
    if channel_roles:
        labels = [_encode("setup/detectors/label", str(channel_roles.get(int(i), ""))) for i in ids]
        setup["detectors"]["label"] = np.array(labels)
    if sync_rate_hz is not None:
        if not (math.isfinite(sync_rate_hz) and sync_rate_hz > 0):
            raise InvalidValueError(f"sync_rate_hz must be positive and finite, not {sync_rate_hz}")
        setup["laser_repetition_rates"] = [float(sync_rate_hz)]
    return setup


def _nanotimes_specs(
    nt: np.ndarray | None,
    nanotime_resolution_ps: float | None,
    sync_rate_hz: float | None,
    tcspc_num_bins: int | None,
) -> dict[str, Any] | None:
    """/photon_data/nanotimes_specs for T3 data (None for T2), the inputs checked for consistency."""
    if nt is None:
        if nanotime_resolution_ps is not None:
            raise InvalidValueError("nanotime_resolution_ps given without nanotimes")
        return None
    if nanotime_resolution_ps is None or not nanotime_resolution_ps > 0:
        raise InvalidValueError("nanotimes need a positive nanotime_resolution_ps")
    if sync_rate_hz is None:
        raise InvalidValueError(
            "nanotimes need sync_rate_hz: Photon-HDF5 requires the laser repetition rate for TCSPC data"
        )
    top = int(nt.max()) if nt.size else 0
    bins = int(tcspc_num_bins) if tcspc_num_bins is not None else 1 << max(top, 1).bit_length()
    if bins <= top:
        raise InvalidValueError(f"tcspc_num_bins={bins} but the largest nanotime is {top}")
    unit_s = float(nanotime_resolution_ps) * 1e-12
    return {"tcspc_unit": unit_s, "tcspc_num_bins": bins, "tcspc_range": unit_s * bins}


def _qdcat_group(
    resolution_ps: float,
    nanotime_resolution_ps: float | None,
    acquisition_s: float | None,
    channel_roles: Mapping[int, str] | None,
    hardware: str | None,
    software: str | None,
) -> dict[str, Any]:
    """/user/qdcat: the writer, the channel convention and the exact values the reader needs."""
    from qdcat import __version__

    user: dict[str, Any] = {
        "writer": f"qdcat {__version__}",
        "channel_convention": _CHANNEL_CONVENTION,
        # Exact values: timestamps_unit (seconds) times 1e12 need not give resolution_ps back bit
        # for bit, and the reader needs it so to turn counts into the very same int64 ps.
        "resolution_ps": float(resolution_ps),
        "nanotime_resolution_ps": float(nanotime_resolution_ps) if nanotime_resolution_ps else math.nan,
        "acquisition_s": float(acquisition_s) if acquisition_s is not None else math.nan,
        "channel_roles": json.dumps({str(k): v for k, v in sorted((channel_roles or {}).items())}),
    }
    if hardware:
        user["hardware"] = hardware
    if software:
        user["software"] = software
    return user


def _gather(
    timestamps_ps: np.ndarray | Iterable[EventBlock],
    channels: np.ndarray | None,
    nanotimes: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Arrays (or blocks) to checked int64 timestamps, uint8 channels and unsigned nanotimes."""
    if isinstance(timestamps_ps, np.ndarray):
        if channels is None:
            raise InvalidValueError("channels are required with a timestamps_ps array")
        ts, ch, nt = timestamps_ps, np.asarray(channels), None if nanotimes is None else np.asarray(nanotimes)
    else:
        if channels is not None or nanotimes is not None:
            raise InvalidValueError("with blocks, channels and nanotimes come from the blocks: pass neither")
        blocks = list(timestamps_ps)
        with_nano = {b.nanotimes is not None for b in blocks}
        if len(with_nano) > 1:
            raise InvalidValueError("some blocks have nanotimes and some do not")
        ts = np.concatenate([b.timestamps_ps for b in blocks]) if blocks else np.empty(0, np.int64)
        ch = np.concatenate([b.channels for b in blocks]) if blocks else np.empty(0, np.uint8)
        nt = np.concatenate([b.nanotimes for b in blocks]) if with_nano == {True} else None
    for name, array in (("timestamps_ps", ts), ("channels", ch), ("nanotimes", nt)):
        if array is not None and (array.ndim != 1 or array.dtype.kind not in "iu"):
            raise InvalidValueError(f"{name} must be a 1-D integer array, not {array.dtype} {array.shape}")
    if ch.shape != ts.shape or (nt is not None and nt.shape != ts.shape):
        raise InvalidValueError(
            f"timestamps_ps, channels and nanotimes differ in length ({ts.shape[0]}, {ch.shape[0]}, "
            f"{None if nt is None else nt.shape[0]})"
        )
    if ts.dtype == np.uint64 and ts.size and int(ts.max()) > 2**63 - 1:
        raise InvalidValueError("timestamps_ps beyond the int64 range")
    ts = ts.astype(np.int64, copy=False)
    if ts.size and np.any(np.diff(ts) < 0):
        raise InvalidValueError("timestamps_ps must be non-decreasing")
    if ch.size and (int(ch.min()) < 0 or int(ch.max()) > 255):
        raise InvalidValueError("channels must lie in 0..255 (qdcat stores them as uint8)")
    ch = ch.astype(np.uint8, copy=False)
    if nt is not None:
        if nt.size and (int(nt.min()) < 0 or int(nt.max()) >= 2**32):
            raise InvalidValueError("nanotimes must lie in 0..2**32-1")
        nt = nt.astype(np.uint16 if not nt.size or int(nt.max()) < 2**16 else np.uint32, copy=False)
    return ts, ch, nt


def _ps_to_counts(ts: np.ndarray, resolution_ps: float) -> np.ndarray:
    """int64 ps to int64 counts of ``resolution_ps``, refusing anything that would not read back exactly."""
    if resolution_ps.is_integer():
        unit = np.int64(int(resolution_ps))
        counts, rest = np.divmod(ts, unit)
        off_grid = np.flatnonzero(rest)
    else:
        counts = np.rint(ts / resolution_ps).astype(np.int64)
        off_grid = np.flatnonzero(_counts_to_ps(counts, resolution_ps) != ts)
    if off_grid.size:
        i = int(off_grid[0])
        raise InvalidValueError(
            f"timestamps_ps are not on the resolution_ps={resolution_ps} grid ({off_grid.size} are off, "
            f"the first at index {i}: {int(ts[i])} ps); pass the resolution the times were taken with"
        )
    return counts


def _save(data: dict[str, Any], path: Path, overwrite: bool) -> None:
    """Write ``data`` (the Photon-HDF5 tree as phconvert's ``save_photon_hdf5`` takes it) with h5py.

    Adds what phconvert adds itself: the root attributes and format fields, and /identity's file
    name, creation time, format and software (here qdcat). Written under a temporary name in the
    destination folder, then renamed: a failure never leaves a half-written file at ``path``.
    """
    import h5py

    from qdcat import __version__

    identity = {
        **data.get("identity", {}),
        "filename": path.name,  # the final name, not the temporary one
        "filename_full": os.path.abspath(path),
        "creation_time": time.strftime("%Y-%m-%d %H:%M:%S"),
        "software": "qdcat",
        "software_version": __version__,
        **_FORMAT,
    }
    tree = {**data, "format_name": _FORMAT["format_name"], "format_version": _FORMAT["format_version"]}
    tree["identity"] = identity
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["TITLE"] = _title("")
            for name, value in _FORMAT.items():
                f.attrs[name] = np.bytes_(value.encode())
            photon_arrays: list[Any] = []
            _write_group(f, "", tree, photon_arrays)
            for group, name, array in photon_arrays:
                _write_photon_array(group, name, array)
        _move_into_place(tmp, path, overwrite)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _move_into_place(tmp: Path, path: Path, overwrite: bool) -> None:
    """Rename the finished file to ``path``; without ``overwrite`` a file that is there stays."""
    if overwrite:
        os.replace(tmp, path)  # atomic: whoever opens path gets the old file or the new one
        return
    try:
        os.link(tmp, path)  # atomic create-if-absent, even against a file that appeared meanwhile
    except FileExistsError:
        raise InvalidValueError(_EXISTS.format(path)) from None
    except OSError:  # a file system without hard links: check, then rename
        if path.exists():
            raise InvalidValueError(_EXISTS.format(path)) from None
        os.replace(tmp, path)
        return
    tmp.unlink()


def _write_group(group: Any, prefix: str, tree: Mapping[str, Any], photon_arrays: list[Any]) -> None:
    """Write ``tree`` into the h5py ``group``: a mapping becomes a sub-group, anything else a dataset.

    The photon arrays are only collected in ``photon_arrays`` (group, name, array), to be written
    after all the metadata: the file then holds its metadata first and the data chunks after it.
    """
    for name, value in tree.items():
        field = prefix + name
        if isinstance(value, Mapping):
            sub = group.create_group(name)
            sub.attrs["TITLE"] = _title(field)
            _write_group(sub, field + "/", value, photon_arrays)
            continue
        array = _field_array(field, value)
        if prefix == "photon_data/":
            photon_arrays.append((group, name, array))
            continue
        ds = group.create_dataset(name, data=array)
        ds.attrs["TITLE"] = _title(field)
        if array.ndim == 0:
            # PyTables (phconvert's validator and loader, FRETBursts) reads a scalar as a Python
            # value (text as bytes) only with this attribute, which it writes on every scalar.
            ds.attrs["FLAVOR"] = np.bytes_(b"python")


def _write_photon_array(group: Any, name: str, array: np.ndarray) -> None:
    """A /photon_data array, chunked and compressed as phconvert writes it.

    phconvert's default compression is PyTables' Filters(complevel=6, complib="zlib"), which also
    turns the shuffle filter on. PyTables' zlib is HDF5's standard deflate filter, which h5py calls
    "gzip": the same filter pipeline, readable by any HDF5 library without plugins.
    """
    n = int(array.shape[0])
    chunk = _chunk_len(n, array.dtype.itemsize)
    ds = group.create_dataset(
        name,
        data=array,
        chunks=(min(n, chunk) or chunk,),
        maxshape=(n or None,),  # an empty array is extendable, as PyTables makes it
        compression="gzip",
        compression_opts=6,
        shuffle=True,
    )
    ds.attrs["TITLE"] = _title(f"photon_data/{name}")


def _title(field: str) -> Any:
    """The TITLE attribute of ``field``: its spec description (none for /user fields)."""
    import h5py

    if field == "user" or field.startswith("user/"):
        return h5py.Empty(np.dtype("S1"))  # what PyTables writes for phconvert's empty descriptions
    return np.bytes_(_SPEC_TITLES[field].encode())


def _field_array(field: str, value: Any) -> np.ndarray:
    """A field's value as phconvert stores it: text as fixed-length bytes, booleans as integers
    (uint8 in arrays), Python ints as int64 and floats as float64 scalars, arrays as they are."""
    if isinstance(value, str):
        return np.array(_encode(field, value))
    if isinstance(value, bool | np.bool_):
        return np.array(int(value), dtype=np.int64)
    if isinstance(value, list | tuple):
        return np.asarray(value, dtype=np.uint8 if all(isinstance(v, bool) for v in value) else None)
    if isinstance(value, int | np.integer):
        return np.array(value, dtype=np.int64)
    if isinstance(value, float | np.floating):
        return np.array(value, dtype=np.float64)
    if isinstance(value, np.ndarray) and value.dtype.kind in "iufS":
        return value
    raise TypeError(f"/{field}: cannot store {type(value).__name__} in Photon-HDF5")


def _encode(field: str, text: str) -> bytes:
    """Text for a Photon-HDF5 string field: UTF-8 bytes without NUL characters."""
    if not isinstance(text, str):
        raise InvalidValueError(f"/{field} must be text, not {type(text).__name__}")
    if "\x00" in text:
        raise InvalidValueError(f"/{field}: text with a NUL character cannot be stored in Photon-HDF5")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidValueError(f"/{field}: text that is not valid Unicode ({exc.reason})") from exc


def _chunk_len(n: int, itemsize: int) -> int:
    """Elements per chunk of an array of ``n`` items, sized as PyTables sizes those phconvert writes
    (``tables.leaf.calc_chunksize``): 64 KiB up to 10 MiB of data, doubling with each factor of 10."""
    mib = min(max(n * itemsize // 2**20, 1), 10**7)
    return max(1, (65536 << int(math.log10(mib))) // itemsize)


# --- reading helpers ---------------------------------------------------------------------------


@contextlib.contextmanager
def _open_h5(path: Path) -> Iterator[Any]:
    import h5py

    with format_boundary(path, "not a readable HDF5 file", _REEXPORT):
        try:
            f = h5py.File(path, "r")
        except OSError as exc:  # h5py's word for truncated, corrupt, not HDF5, missing filter
            raise ReaderError(path, _unreadable(exc)) from exc
    try:
        yield f
    finally:
        f.close()


def _unreadable(exc: BaseException, what: str = "not a readable HDF5 file") -> str:
    text = str(exc)
    if "not registered" in text or "plugin" in text.lower():  # e.g. a blosc-compressed file
        return (
            f"the data are compressed with a filter h5py lacks ({text}); re-save the file with zlib "
            "compression (phconvert's default)"
        )
    return (
        f"{what} ({text}): the file is truncated or corrupt; copy it again, or re-export it from its source"
    )


class _Fields:
    """Typed access to the fields of an open Photon-HDF5 file: a field that is there must be of
    the kind the spec says (group or dataset, number or text) or the file is refused, naming the
    field's HDF5 path; a field that is absent is None."""

    def __init__(self, path: Path, f: Any) -> None:
        self.path, self.f = path, f

    def _refuse(self, name: str, problem: str) -> ReaderError:
        return ReaderError(self.path, f"/{name} {problem}: the file does not follow Photon-HDF5; {_REEXPORT}")

    def _node(self, name: str) -> Any:
        import h5py

        obj, parts = self.f, name.split("/")
        for i, part in enumerate(parts):
            if not isinstance(obj, h5py.Group):
                raise self._refuse("/".join(parts[:i]), "is a dataset where a group belongs")
            if part not in obj:
                return None
            obj = obj[part]
        return obj

    def group(self, name: str) -> Any:
        import h5py

        obj = self._node(name)
        if obj is not None and not isinstance(obj, h5py.Group):
            raise self._refuse(name, "is a dataset where a group belongs")
        return obj

    def dataset(self, name: str) -> Any:
        import h5py

        obj = self._node(name)
        if obj is not None and not isinstance(obj, h5py.Dataset):
            raise self._refuse(name, "is a group where a dataset belongs")
        return obj

    def numbers(
        self,
        name: str,
        *,
        required: bool = False,
        integer: bool = False,
        nan_ok: bool = False,
        low: float | None = None,
        high: float | None = None,
    ) -> np.ndarray | None:
        """The numbers of a dataset (raveled, float64 or int64); ``nan_ok``: NaN is allowed."""
        ds = self.dataset(name)
        if ds is None:
            if required:
                raise self._refuse(name, "is missing")
            return None
        kinds = "iu" if integer else "iuf"
        if ds.dtype.kind not in kinds:
            shown = one_line(repr(ds[()]), 60) if ds.size <= 16 else f"{ds.shape} {ds.dtype}"
            wanted = "integers" if integer else "a number"
            what = {"S": "text ", "U": "text ", "O": "text ", "b": "a boolean "}.get(ds.dtype.kind, "")
            raise self._refuse(name, f"holds {what}{shown}, not {wanted}")
        values = np.ravel(np.asarray(ds[()]))
        values = values.astype(np.int64 if integer else np.float64)
        bad = ~np.isfinite(values) if not integer else np.zeros(values.shape, bool)
        if nan_ok:
            bad &= ~np.isnan(values)
        if low is not None:
            bad |= values < low
        if high is not None:
            bad |= values > high
        if bad.any():
            value = values[np.flatnonzero(bad)[0]].item()
            limits = f" (allowed {low:g}..{high:g})" if low is not None and high is not None else ""
            limits = limits or (f" (allowed >= {low:g})" if low is not None else "")
            raise self._refuse(name, f"is {value!r}{limits}")
        return values

    def number(self, name: str, *, required: bool = False, **limits: Any) -> float | None:
        """A scalar number (a one-element dataset); NaN (if allowed) reads as None."""
        values = self.numbers(name, required=required, **limits)
        if values is None:
            return None
        if values.size != 1:
            raise self._refuse(name, f"holds {values.size} values where one number belongs")
        value = float(values[0])
        return None if math.isnan(value) else value

    def string(self, name: str) -> str | None:
        """A text field (informational: a number there is shown as text)."""
        ds = self.dataset(name)
        if ds is None:
            return None
        value = ds[()]
        if isinstance(value, bytes | np.bytes_):
            value = bytes(value).decode("utf-8", "replace")
        elif isinstance(value, np.generic):
            value = str(value.item())
        return value if isinstance(value, str) and value else None


def _exact(value_ps: Any, unit_s: float) -> float | None:
    """qdcat's exact unit (ps) when it agrees with the spec field (s); else None."""
    try:
        exact = float(value_ps)
    except (TypeError, ValueError):
        return None
    if math.isfinite(exact) and exact > 0 and abs(exact * 1e-12 - unit_s) <= 1e-9 * unit_s:
        return exact
    return None


def _clean(value_ps: float) -> float:
    """Drop the float noise of seconds × 1e12 (4e-12 s is 4 ps, not 3.9999999999999996)."""
    return float(f"{value_ps:.12g}")


def _nanotime_dtype(dtype: np.dtype) -> type[np.unsignedinteger]:
    return np.uint16 if dtype.itemsize <= 2 else np.uint32


def _counts_to_ps(counts: np.ndarray, unit_ps: float) -> np.ndarray:
    """Counts of ``unit_ps`` to int64 ps: exact for integral units, else rounded (still monotonic)."""
    if float(unit_ps).is_integer():
        return counts * np.int64(int(unit_ps))
    return np.rint(counts * float(unit_ps)).astype(np.int64)


def _collect_tags(f: Any) -> dict[str, Any]:
    """Every field except the photon arrays, by path, as plain JSON-able values."""
    import h5py

    tags: dict[str, Any] = {}

    def visit(name: str, obj: Any) -> None:
        parts = name.split("/")
        if not isinstance(obj, h5py.Dataset) or (parts[0] == "photon_data" and parts[-1] in _PHOTON_ARRAYS):
            return
        if obj.size <= 4096:  # headers are small; anything big is data, not a setting
            tags[name] = jsonable(obj[()])

    f.visititems(visit)
    return tags
