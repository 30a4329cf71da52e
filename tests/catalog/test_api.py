"""The catalog API on both backends: records, constraints, errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from qdcat.catalog.api import Catalog, MeasurementSpec, SettingsSpec
from qdcat.catalog.models import Dot, InstrumentSettings, Measurement, Sample, Specimen
from qdcat.errors import AlreadyExistsError, InUseError, InvalidValueError, NotFoundError


def test_sample_specimen_dot_round_trip(populated: Catalog) -> None:
    cat = populated
    [s] = cat.list_samples()
    assert (s["name"], s["material"], s["specimens"], s["dots"], s["measurements"]) == (
        "InP-A",
        "InP/ZnSe",
        1,
        3,
        0,
    )
    assert s["core_diameter_nm"] == 3.2
    [sp] = cat.list_specimens()
    assert (sp["name"], sp["sample"], sp["purpose"], sp["dots"]) == ("slide-1", "InP-A", "single_dot", 3)
    dots = cat.list_dots(specimen="slide-1")
    assert [(d["label"], d["x_um"], d["y_um"]) for d in dots] == [("d1", 1, 2), ("d2", 2, 4), ("d3", 3, 6)]
    shown = cat.get_sample("InP-A")
    assert shown["dots"] == 3 and shown["specimens"][0]["name"] == "slide-1"


def test_duplicate_and_unknown_names(populated: Catalog) -> None:
    cat = populated
    with pytest.raises(AlreadyExistsError, match="sample 'InP-A' already exists"):
        cat.add_sample("InP-A", "InP/ZnSe")
    with pytest.raises(NotFoundError, match=r"unknown sample 'nope'; known samples: InP-A"):
        cat.add_specimen("s2", "nope")
    with pytest.raises(AlreadyExistsError, match="specimen 'slide-1' already exists"):
        cat.add_specimen("slide-1", "InP-A")
    with pytest.raises(AlreadyExistsError, match="dot 'd1' already exists"):
        cat.add_dot("slide-1", "d1", 0, 0)
    # the same label on another specimen is a different dot
    cat.add_specimen("slide-2", "InP-A")
    cat.add_dot("slide-2", "d1", 0, 0)
    assert len(cat.list_dots(sample="InP-A")) == 4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"plqy_fraction": 1.5}, r"plqy_fraction must lie in \[0, 1\]"),
        ({"core_diameter_nm": -1}, "core_diameter_nm must be > 0"),
        ({"core_diameter_nm": 5, "total_diameter_nm": 3}, "smaller than core_diameter_nm"),
        ({"pl_peak_nm": float("nan")}, "must be finite"),
        ({"pl_peak_nm": "abc"}, "must be a number"),
        ({"synthesized_on": "yesterday"}, "must be a date"),
    ],
)
def test_bad_sample_values(catalog: Catalog, kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidValueError, match=match):
        catalog.add_sample("S", "InP/ZnSe", **kwargs)
    assert catalog.list_samples() == []


def test_bad_enum_lists_choices(populated: Catalog) -> None:
    with pytest.raises(InvalidValueError, match="choose one of: ensemble, single_dot"):
        populated.add_specimen("x", "InP-A", purpose="film")
    with pytest.raises(InvalidValueError, match="g2_cw"):
        populated.add_measurement(MeasurementSpec(kind="g2", specimen="slide-1"))


def test_database_constraints_hold_without_the_api(populated: Catalog) -> None:
    """CHECKs and RESTRICT foreign keys are enforced by the database itself."""
    with pytest.raises(IntegrityError), populated.session() as s:
        s.execute(update(Sample).values(plqy_fraction=3.0))
    with pytest.raises(IntegrityError), populated.session() as s:
        s.execute(delete(Sample))  # specimens still refer to it
    with pytest.raises(IntegrityError), populated.session() as s:
        s.execute(delete(Specimen))  # dots still refer to it
    with pytest.raises(IntegrityError), populated.session() as s:
        s.execute(
            insert(Dot).values(specimen_id=999, label="x", x_um=0, y_um=0, created_at=dt.datetime.now(dt.UTC))
        )
    assert len(populated.list_dots()) == 3


def test_measurement_dot_must_sit_on_its_specimen(populated: Catalog) -> None:
    populated.add_specimen("slide-2", "InP-A")
    with populated.session() as s:
        dot_id = s.scalar(select(Dot.id).where(Dot.label == "d1"))
        other = s.scalar(select(Specimen.id).where(Specimen.name == "slide-2"))
    with pytest.raises(IntegrityError), populated.session() as s:
        s.add(Measurement(kind="g2_cw", specimen_id=other, dot_id=dot_id))


def test_import_dots_is_all_or_nothing(populated: Catalog, tmp_path: Path) -> None:
    cat = populated
    bad = tmp_path / "bad.csv"
    bad.write_text("label,x_um,y_um\nd10,1,2\nd11,oops,3\n")
    with pytest.raises(InvalidValueError, match="row 2: x_um must be a number"):
        cat.import_dots_csv("slide-1", bad)
    assert len(cat.list_dots()) == 3
    dup = tmp_path / "dup.csv"
    dup.write_text("label,x_um,y_um\nd10,1,2\nd10,3,3\n")
    with pytest.raises(InvalidValueError, match="repeats row 1"):
        cat.import_dots_csv("slide-1", dup)
    clash = tmp_path / "clash.csv"
    clash.write_text("label,x_um,y_um,marker_label,marker_dx_um,marker_dy_um\nd1,1,2,,,\nd20,5,6,M3,1.5,-2\n")
    with pytest.raises(AlreadyExistsError, match="nothing was imported"):
        cat.import_dots_csv("slide-1", clash)
    assert cat.import_dots_csv("slide-1", clash, skip_existing=True) == {"added": 1, "skipped": 1}
    d20 = next(d for d in cat.list_dots() if d["label"] == "d20")
    assert (d20["marker_label"], d20["marker_dx_um"], d20["marker_dy_um"]) == ("M3", 1.5, -2)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("name,x,y\na,1,2\n")
    with pytest.raises(InvalidValueError, match=r"missing column\(s\)"):
        cat.import_dots_csv("slide-1", wrong)
    with pytest.raises(InvalidValueError, match="cannot read"):
        cat.import_dots_csv("slide-1", tmp_path / "absent.csv")


def test_setup_channel_roles(catalog: Catalog) -> None:
    catalog.add_setup("s", channels={1: ("hbt_a", "SPAD 1"), 2: "hbt_b", 0: "sync", 3: "marker", 4: "marker"})
    assert {k: v.value for k, v in catalog.channel_roles("s").items()} == {
        0: "sync",
        1: "hbt_a",
        2: "hbt_b",
        3: "marker",
        4: "marker",
    }
    assert catalog.get_setup("s")["channels"]["1"] == {
        "role": "hbt_a",
        "detector": "SPAD 1",
        "dark_count_rate_cps": None,
        "timing_jitter_ps": None,
    }
    # two detectors on one HBT arm are allowed; two laser syncs are not
    catalog.add_setup("two-per-arm", channels={0: "hbt_a", 1: "hbt_a", 2: "hbt_b", 3: "hbt_b"})
    assert [v.value for v in catalog.channel_roles("two-per-arm").values()] == [
        "hbt_a",
        "hbt_a",
        "hbt_b",
        "hbt_b",
    ]
    with pytest.raises(InvalidValueError, match="both sync"):
        catalog.add_setup("t", channels={0: "sync", 1: "sync"})
    with pytest.raises(InvalidValueError, match="0–255"):
        catalog.add_setup("t", channels={300: "hbt_a"})


def test_measurement_with_settings(populated: Catalog) -> None:
    started = dt.datetime(2026, 3, 1, 14, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    spec = MeasurementSpec(
        kind="g2_cw",
        specimen="slide-1",
        dot="d2",
        setup="hbt",
        started_at=started,
        duration_s=120,
        operator="ana",
        settings=SettingsSpec(
            excitation_wavelength_nm=445,
            excitation_mode="cw",
            intensity_w_cm2=76,
            temperature_k=295,
            snapshot={"objective": "100x/0.9", "filters": ["LP500", "BP630/40"]},
        ),
    )
    mid = populated.add_measurement(spec)["id"]
    m = populated.get_measurement(mid)
    assert (m["kind"], m["dot"], m["specimen"], m["sample"], m["setup"]) == (
        "g2_cw",
        "d2",
        "slide-1",
        "InP-A",
        "hbt",
    )
    assert dt.datetime.fromisoformat(m["started_at"]) == started  # stored as UTC, same instant
    assert m["settings"]["intensity_w_cm2"] == 76
    assert m["settings"]["snapshot"] == {"objective": "100x/0.9", "filters": ["LP500", "BP630/40"]}
    assert m["raw_data"] is None
    [row] = populated.list_measurements(kind="g2_cw")
    assert (row["dot"], row["excitation_mode"], row["intensity_w_cm2"]) == ("d2", "cw", 76)
    assert populated.list_measurements(kind="decay") == []
    # typed settings columns are indexed and filterable in SQL
    with populated.session() as s:
        hits = s.scalars(
            select(InstrumentSettings.measurement_id).where(InstrumentSettings.intensity_w_cm2 > 50)
        )
        assert list(hits) == [mid]


def test_measurement_bad_settings(populated: Catalog) -> None:
    with pytest.raises(InvalidValueError, match="cw excitation has no repetition rate"):
        populated.add_measurement(
            MeasurementSpec(
                kind="g2_cw",
                specimen="slide-1",
                settings=SettingsSpec(excitation_mode="cw", repetition_rate_mhz=10),
            )
        )
    with pytest.raises(NotFoundError, match="unknown dot 'd9'"):
        populated.add_measurement(MeasurementSpec(kind="g2_cw", specimen="slide-1", dot="d9"))
    with pytest.raises(InvalidValueError, match="series_name and series_index"):
        populated.add_measurement(
            MeasurementSpec(kind="power_series_point", specimen="slide-1", series_name="P1")
        )
    assert populated.list_measurements() == []


def test_delete_refuses_then_forces(populated: Catalog) -> None:
    cat = populated
    cat.add_measurement(MeasurementSpec(kind="spectrum", specimen="slide-1", dot="d1"))
    with pytest.raises(InUseError, match=r"1 specimen\(s\), 3 dot\(s\) and 1 measurement"):
        cat.delete_sample("InP-A")
    assert len(cat.list_measurements()) == 1
    with pytest.raises(InUseError):
        cat.delete_dot("slide-1", "d1")
    cat.delete_dot("slide-1", "d2")  # no measurements: fine
    impact = cat.delete_sample("InP-A", force=True)
    assert impact == {"specimens": 1, "dots": 2, "measurements": 1, "raw_bytes": 0}
    assert cat.list_samples() == [] and cat.list_dots() == [] and cat.list_measurements() == []


def test_utc_times_round_trip(catalog: Catalog) -> None:
    catalog.add_sample("S", "CdSe/CdS")
    with catalog.session() as s:
        created = s.scalar(select(Sample.created_at))
    assert created.tzinfo is not None
    assert abs(dt.datetime.now(dt.UTC) - created) < dt.timedelta(minutes=5)


def test_status_counts(populated: Catalog) -> None:
    st = populated.status()
    assert (st["samples"], st["specimens"], st["dots"], st["measurements"]) == (1, 1, 3, 0)
    assert st["schema_revision"] == st["schema_head"]
