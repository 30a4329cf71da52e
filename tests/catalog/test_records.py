"""The API's records: frozen, typed, read like the dicts they replaced and serialise the same."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import pickle
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from qdcat._json import jsonable
from qdcat.catalog.api import Catalog, MeasurementSpec, SettingsSpec, SourceFile
from qdcat.catalog.models import (
    ChannelRole,
    DataKind,
    Dot,
    ExcitationMode,
    Measurement,
    MeasurementKind,
    Sample,
    Setup,
    Specimen,
    SpecimenPurpose,
)
from qdcat.catalog.records import (
    ChannelRecord,
    DotRecord,
    MeasurementRecord,
    Record,
    SampleDetail,
    SampleRecord,
    SetupRecord,
    SetupSummary,
    SpecimenRecord,
)

SHA = "ab" * 32


def _iso(ts: dt.datetime | None) -> str | None:
    return None if ts is None else ts.isoformat(timespec="seconds")


def _same_json(rec: Record, expected: dict[str, Any]) -> None:
    """``rec`` is, key for key and in order, the dict the API used to return."""
    assert json.dumps(rec) == json.dumps(expected)  # what `--json` prints
    assert json.dumps(rec, indent=2, default=str) == json.dumps(expected, indent=2, default=str)
    assert jsonable(rec) == jsonable(expected)
    assert rec.to_dict() == expected and list(rec.to_dict()) == list(expected)
    assert rec == expected and expected == rec
    assert dict(rec) == expected and list(rec) == list(expected) and len(rec) == len(expected)


@pytest.fixture
def added(catalog: Catalog) -> dict[str, Any]:
    cat = catalog
    out: dict[str, Any] = {}
    out["sample"] = cat.add_sample(
        "InP-A",
        "InP/ZnSe",
        core_diameter_nm=3.2,
        total_diameter_nm=10,
        synthesized_on="2026-03-01",
        pl_peak_nm=629,
        plqy_fraction=0.5,
        notes="batch 7",
    )
    out["specimen"] = cat.add_specimen(
        "slide-1", "InP-A", preparation_method="drop-cast", concentration_nmol_l=1, prepared_on="2026-03-02"
    )
    out["dot"] = cat.add_dot("slide-1", "d1", 1.5, -2, marker_label="M1", marker_dx_um=0.5, marker_dy_um=0.25)
    out["setup"] = cat.add_setup(
        "hbt",
        channels={0: "hbt_a", 1: ("hbt_b", "SPAD-2"), 2: "sync"},
        time_tagger_model="HydraHarp",
        time_tagger_resolution_ps=1,
        dark_count_rate_cps={0: 20},
        timing_jitter_ps={1: 350},
    )
    spec = MeasurementSpec(
        kind="spectrum",
        specimen="slide-1",
        dot="d1",
        setup="hbt",
        label="first",
        started_at="2026-03-03T10:00:00+00:00",
        duration_s=2,
        operator="ana",
        settings=SettingsSpec(
            excitation_wavelength_nm=445,
            excitation_mode="cw",
            intensity_w_cm2=200,
            # keys in the order JSONB (PostgreSQL) sorts them, shorter first; SQLite keeps any order
            snapshot={"filters": ["LP500"], "objective": "100x"},
        ),
    )
    arrays = {"wavelength_nm": np.linspace(600.0, 650.0, 5), "counts": np.arange(5.0)}
    out["measurement_id"] = cat.add_array_measurement(
        spec, arrays, source=SourceFile("s.csv", SHA, 123, "csv")
    )
    return out


def test_added_sample_specimen_dot_read_as_before(catalog: Catalog, added: dict[str, Any]) -> None:
    sample, specimen, dot = added["sample"], added["specimen"], added["dot"]
    assert isinstance(sample, SampleRecord) and isinstance(sample.created_at, dt.datetime)
    assert sample.synthesized_on == dt.date(2026, 3, 1)
    _same_json(
        sample,
        {
            "id": sample.id,
            "name": "InP-A",
            "material": "InP/ZnSe",
            "core_diameter_nm": 3.2,
            "total_diameter_nm": 10.0,
            "synthesis_reference": None,
            "synthesized_on": "2026-03-01",
            "abs_max_nm": None,
            "pl_peak_nm": 629.0,
            "pl_fwhm_nm": None,
            "plqy_fraction": 0.5,
            "decay_rate_solution_per_us": None,
            "notes": "batch 7",
            "created_at": _iso(sample.created_at),
        },
    )
    assert isinstance(specimen, SpecimenRecord) and specimen.purpose is SpecimenPurpose.SINGLE_DOT
    _same_json(
        specimen,
        {
            "id": specimen.id,
            "name": "slide-1",
            "sample_id": sample.id,
            "purpose": "single_dot",
            "preparation_method": "drop-cast",
            "concentration_nmol_l": 1.0,
            "solvent": None,
            "substrate": None,
            "surface_density_per_um2": None,
            "prepared_on": "2026-03-02",
            "notes": None,
            "created_at": _iso(specimen.created_at),
            "sample": "InP-A",
        },
    )
    assert isinstance(dot, DotRecord) and dot.x_um == 1.5
    _same_json(
        dot,
        {
            "id": dot.id,
            "specimen_id": specimen.id,
            "label": "d1",
            "x_um": 1.5,
            "y_um": -2.0,
            "z_um": None,
            "marker_label": "M1",
            "marker_dx_um": 0.5,
            "marker_dy_um": 0.25,
            "notes": None,
            "created_at": _iso(dot.created_at),
            "specimen": "slide-1",
        },
    )


def test_listed_and_shown_samples_specimens_dots(catalog: Catalog, added: dict[str, Any]) -> None:
    sample, specimen, dot = added["sample"], added["specimen"], added["dot"]
    [row] = catalog.list_samples()
    _same_json(
        row,
        {
            "id": sample.id,
            "name": "InP-A",
            "material": "InP/ZnSe",
            "core_diameter_nm": 3.2,
            "total_diameter_nm": 10.0,
            "pl_peak_nm": 629.0,
            "pl_fwhm_nm": None,
            "plqy_fraction": 0.5,
            "specimens": 1,
            "dots": 1,
            "measurements": 1,
        },
    )
    shown = catalog.get_sample("InP-A")
    assert isinstance(shown, SampleDetail) and shown.specimens[0].purpose is SpecimenPurpose.SINGLE_DOT
    _same_json(
        shown,
        {
            **sample.to_dict(),
            "specimens": [
                {
                    "name": "slide-1",
                    "purpose": "single_dot",
                    "preparation_method": "drop-cast",
                    "substrate": None,
                }
            ],
            "dots": 1,
            "measurements": 1,
        },
    )
    assert isinstance(shown["specimens"], list)  # the CLI renders a list of mappings as rows
    [sp] = catalog.list_specimens()
    _same_json(
        sp,
        {
            "id": specimen.id,
            "name": "slide-1",
            "sample": "InP-A",
            "purpose": "single_dot",
            "preparation_method": "drop-cast",
            "concentration_nmol_l": 1.0,
            "solvent": None,
            "substrate": None,
            "surface_density_per_um2": None,
            "prepared_on": "2026-03-02",
            "dots": 1,
        },
    )
    [d] = catalog.list_dots()
    _same_json(
        d,
        {
            "id": dot.id,
            "label": "d1",
            "specimen": "slide-1",
            "sample": "InP-A",
            "x_um": 1.5,
            "y_um": -2.0,
            "z_um": None,
            "marker_label": "M1",
            "marker_dx_um": 0.5,
            "marker_dy_um": 0.25,
            "measurements": 1,
        },
    )
    _same_json(
        catalog.import_dots("slide-1", [{"label": "d1", "x_um": 0, "y_um": 0}], skip_existing=True),
        {"added": 0, "skipped": 1},
    )
    impact = catalog.deletion_impact(sample="InP-A")
    assert impact.raw_bytes > 0
    _same_json(impact, {"specimens": 1, "dots": 1, "measurements": 1, "raw_bytes": impact.raw_bytes})


def test_setup_reads_as_before(catalog: Catalog, added: dict[str, Any]) -> None:
    setup = added["setup"]
    assert isinstance(setup, SetupRecord)
    assert setup.channels[1] == ChannelRecord(
        role=ChannelRole.HBT_B, detector="SPAD-2", dark_count_rate_cps=None, timing_jitter_ps=350.0
    )
    assert setup.channels[1].role is ChannelRole.HBT_B
    expected = {
        "id": setup.id,
        "name": "hbt",
        "description": None,
        "time_tagger_model": "HydraHarp",
        "time_tagger_resolution_ps": 1.0,
        "spectrometer": None,
        "ccd_offset_counts": None,
        "ccd_read_noise_counts": None,
        "created_at": _iso(setup.created_at),
        "channels": {
            "0": {"role": "hbt_a", "detector": None, "dark_count_rate_cps": 20.0, "timing_jitter_ps": None},
            "1": {
                "role": "hbt_b",
                "detector": "SPAD-2",
                "dark_count_rate_cps": None,
                "timing_jitter_ps": 350.0,
            },
            "2": {"role": "sync", "detector": None, "dark_count_rate_cps": None, "timing_jitter_ps": None},
        },
    }
    _same_json(setup, expected)
    _same_json(catalog.get_setup("hbt"), expected)
    [row] = catalog.list_setups()
    assert isinstance(row, SetupSummary) and row.channels == {
        0: ChannelRole.HBT_A,
        1: ChannelRole.HBT_B,
        2: ChannelRole.SYNC,
    }
    _same_json(
        row,
        {
            "id": setup.id,
            "name": "hbt",
            "time_tagger_model": "HydraHarp",
            "time_tagger_resolution_ps": 1.0,
            "spectrometer": None,
            "channels": "0=hbt_a, 1=hbt_b, 2=sync",
        },
    )


def test_measurement_reads_as_before(catalog: Catalog, added: dict[str, Any]) -> None:
    mid = added["measurement_id"]
    m = catalog.get_measurement(mid)
    assert isinstance(m, MeasurementRecord) and m.kind is MeasurementKind.SPECTRUM
    assert m.started_at == dt.datetime(2026, 3, 3, 10, tzinfo=dt.UTC)
    assert m.settings is not None and m.settings.excitation_mode is ExcitationMode.CW
    raw = m.raw_data
    assert raw is not None and raw.data_kind is DataKind.SPECTRUM and raw.committed_at is not None
    raw_expected = {
        "store_path": raw.store_path,
        "data_kind": "spectrum",
        "source_filename": "s.csv",
        "source_format": "csv",
        "source_sha256": SHA,
        "source_size_bytes": 123,
        "event_count": 5,
        "channel_counts": {},
        "resolution_ps": None,
        "nanotime_resolution_ps": None,
        "has_nanotimes": False,
        "data_sha256": raw.data_sha256,
        "stored_bytes": raw.stored_bytes,
        "committed_at": _iso(raw.committed_at),
    }
    _same_json(
        m,
        {
            "id": mid,
            "kind": "spectrum",
            "specimen_id": added["specimen"].id,
            "dot_id": added["dot"].id,
            "setup_id": added["setup"].id,
            "label": "first",
            "started_at": "2026-03-03T10:00:00+00:00",
            "duration_s": 2.0,
            "operator": "ana",
            "series_name": None,
            "series_index": None,
            "notes": None,
            "created_at": _iso(m.created_at),
            "specimen": "slide-1",
            "sample": "InP-A",
            "dot": "d1",
            "setup": "hbt",
            "settings": {
                "excitation_wavelength_nm": 445.0,
                "excitation_mode": "cw",
                "repetition_rate_mhz": None,
                "intensity_w_cm2": 200.0,
                "temperature_k": None,
                "integration_time_s": None,
                "snapshot": {"filters": ["LP500"], "objective": "100x"},
            },
            "raw_data": raw_expected,
        },
    )
    _same_json(catalog.raw_asset(mid), raw_expected)
    [row] = catalog.list_measurements()
    assert row.started_at == m.started_at and row.excitation_mode is ExcitationMode.CW
    _same_json(
        row,
        {
            "id": mid,
            "kind": "spectrum",
            "sample": "InP-A",
            "specimen": "slide-1",
            "dot": "d1",
            "setup": "hbt",
            "started_at": "2026-03-03T10:00:00+00:00",
            "duration_s": 2.0,
            "excitation_mode": "cw",
            "intensity_w_cm2": 200.0,
            "event_count": 5,
            "source_filename": "s.csv",
        },
    )
    ref = catalog.add_measurement(MeasurementSpec(kind="g2_cw", specimen="slide-1"))
    assert ref.kind is MeasurementKind.G2_CW
    _same_json(ref, {"id": ref.id, "kind": "g2_cw"})


def test_status_reads_as_before(catalog: Catalog, added: dict[str, Any]) -> None:
    st = catalog.status()
    assert list(st)[:5] == list(catalog.config.describe())
    assert (st.samples, st.specimens, st.dots, st.measurements, st.raw_events) == (1, 1, 1, 1, 5)
    assert st.schema_revision == st.schema_head and st["raw_bytes"] == st.raw_bytes > 0


def test_records_are_frozen_read_only_mappings(added: dict[str, Any]) -> None:
    rec = added["sample"]
    assert isinstance(rec, Mapping) and rec["name"] == rec.name == "InP-A"
    assert rec.get("nope") is None and "material" in rec and set(rec.keys()) == set(rec.to_dict())
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.name = "other"  # type: ignore[misc]
    for change in (
        lambda: rec.__setitem__("name", "other"),
        lambda: rec.__delitem__("name"),
        lambda: rec.pop("name"),  # type: ignore[attr-defined]
        lambda: rec.update(name="other"),  # type: ignore[attr-defined]
        lambda: rec.setdefault("x", 1),  # type: ignore[attr-defined]
        rec.clear,  # type: ignore[attr-defined]
    ):
        with pytest.raises(TypeError, match="read-only"):
            change()
    assert rec["name"] == "InP-A" and len(rec) == len(dataclasses.fields(rec))
    copy = rec.to_dict()
    copy["name"] = "changed"
    assert rec["name"] == "InP-A"
    again = pickle.loads(pickle.dumps(rec))
    assert type(again) is SampleRecord and again == rec and again.created_at == rec.created_at
    assert dataclasses.replace(rec, notes="x")["notes"] == "x"


@pytest.mark.parametrize(
    ("record", "model", "extra"),
    [
        (SampleRecord, Sample, []),
        (SampleDetail, Sample, ["specimens", "dots", "measurements"]),
        (SpecimenRecord, Specimen, ["sample"]),
        (DotRecord, Dot, ["specimen"]),
        (SetupRecord, Setup, ["channels"]),
        (MeasurementRecord, Measurement, ["specimen", "sample", "dot", "setup", "settings", "raw_data"]),
    ],
)
def test_full_records_follow_their_table(record: type[Record], model: Any, extra: list[str]) -> None:
    """A record of a whole row lists the table's columns in order, then what the API adds."""
    names = [f.name for f in dataclasses.fields(record)]  # type: ignore[arg-type]
    assert names == [c.key for c in model.__table__.columns] + extra
