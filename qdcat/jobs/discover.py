"""Which analyses each acquisition feeds: facts from the catalog, targets for the planner.

One query reads every committed measurement in scope with its raw asset,
settings, specimen, sample and the setup's channel roles, and turns each into
an :class:`~qdcat.analyses.Acquisition`. Each analysis's declaration then says
whether it applies (``applies``/``series_applies``) and which companions it
reads; this module only assembles :class:`~qdcat.analyses.Target` objects.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import BindParameter, bindparam, select
from sqlalchemy.orm import Session

from qdcat.analyses import Acquisition, Analysis, Target
from qdcat.catalog.models import (
    AssetState,
    Dot,
    InstrumentSettings,
    Measurement,
    RawAsset,
    Sample,
    Setup,
    SetupChannel,
    Specimen,
)

SYNC_CODE = 64  # qdcat's code for the laser sync of T2 files (channel convention of the store)
N_DETECTORS = 64  # detector inputs are coded 0..63


@dataclass(frozen=True)
class Selection:
    """Which measurements to analyse; empty fields select everything."""

    sample: str | None = None
    specimen: str | None = None
    dot: str | None = None
    kinds: tuple[str, ...] = ()
    measurement_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Where:
    """Names and sample facts of one measurement, for labels and analysis context."""

    sample: str
    sample_values: dict[str, Any]
    specimen: str
    dot: str | None


@dataclass(frozen=True)
class Scope:
    """The acquisitions a plan looks at (main candidates and possible companions)."""

    acquisitions: tuple[Acquisition, ...]
    where: dict[int, _Where]

    def by_id(self) -> dict[int, Acquisition]:
        return {a.measurement_id: a for a in self.acquisitions}


@functools.cache
def _roles_query() -> Any:
    return select(
        SetupChannel.setup_id,
        SetupChannel.channel,
        SetupChannel.role,
        SetupChannel.dark_count_rate_cps,
        SetupChannel.timing_jitter_ps,
    ).where(SetupChannel.setup_id.in_(bindparam("setups", expanding=True)))


@dataclass(frozen=True)
class _SetupChannels:
    roles: dict[str, tuple[int, ...]]
    dark_cps: dict[int, float | None]
    jitter_ps: dict[int, float | None]

    def dark(self, detectors: Iterable[int]) -> float | None:
        rates = [self.dark_cps.get(c) for c in detectors]
        known = [r for r in rates if r is not None]
        return float(sum(known)) if rates and len(known) == len(rates) else None

    def jitter(self, arm: Iterable[int]) -> float | None:
        values = [self.jitter_ps.get(c) for c in arm]
        known = [v for v in values if v is not None]
        return max(known) if values and len(known) == len(values) else None


def _roles(s: Session, setup_ids: Iterable[int]) -> dict[int, _SetupChannels]:
    roles: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    dark: dict[int, dict[int, float | None]] = defaultdict(dict)
    jitter: dict[int, dict[int, float | None]] = defaultdict(dict)
    ids = list(set(setup_ids))
    if ids:
        for setup_id, channel, role, dark_cps, jitter_ps in s.execute(_roles_query(), {"setups": ids}):
            roles[setup_id][_value(role)].append(int(channel))
            dark[setup_id][int(channel)] = dark_cps
            jitter[setup_id][int(channel)] = jitter_ps
    return {
        k: _SetupChannels({r: tuple(sorted(c)) for r, c in v.items()}, dark[k], jitter[k])
        for k, v in roles.items()
    }


def _value(x: Any) -> str:
    return str(x.value if hasattr(x, "value") else x)


def channel_groups(
    channel_counts: dict[str, int], roles: dict[str, tuple[int, ...]] | None
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], int | None, str]:
    """(detectors, hbt_a, hbt_b, sync, source) from the setup's roles, or the store's convention.

    Every channel of a role counts (two SPADs on one arm feed that arm). Without
    HBT roles, exactly two detector channels with photons are taken as the pair.
    """
    present = {int(c) for c, n in channel_counts.items() if int(n) > 0}
    if roles:
        a = tuple(c for c in roles.get("hbt_a", ()) if c in present)
        b = tuple(c for c in roles.get("hbt_b", ()) if c in present)
        other = tuple(c for c in roles.get("detector", ()) if c in present)
        sync = next((c for c in roles.get("sync", ()) if c in present), None)
        source = "setup roles"
        if not roles.get("hbt_a") and not roles.get("hbt_b") and len(other) == 2:
            a, b = other[:1], other[1:]
            source += "; its two detectors as the HBT pair"
    else:
        other = tuple(sorted(c for c in present if c < N_DETECTORS))
        a, b = (other[:1], other[1:]) if len(other) == 2 else ((), ())
        sync = SYNC_CODE if SYNC_CODE in present else None
        source = "file convention (no setup roles)"
    detectors = tuple(sorted({*a, *b, *other}))
    return detectors, a, b, sync, source


_COLUMNS = (
    Measurement.id,
    Measurement.kind,
    Measurement.specimen_id,
    Measurement.dot_id,
    Measurement.setup_id,
    Measurement.duration_s,
    Measurement.series_name,
    Measurement.series_index,
    RawAsset.data_kind,
    RawAsset.has_nanotimes,
    RawAsset.resolution_ps,
    RawAsset.nanotime_resolution_ps,
    RawAsset.channel_counts,
    RawAsset.data_sha256,
    RawAsset.store_path,
    InstrumentSettings.excitation_mode,
    InstrumentSettings.excitation_wavelength_nm,
    InstrumentSettings.intensity_w_cm2,
    InstrumentSettings.repetition_rate_mhz,
    Specimen.name,
    Specimen.purpose,
    Sample.name,
    Sample.material,
    Sample.decay_rate_solution_per_us,
    Dot.label,
    Setup.ccd_offset_counts,
    Setup.ccd_read_noise_counts,
)


@functools.cache
def _base_query() -> Any:
    """Committed measurements with what decides their analyses (built once: statements cost CPU)."""
    return (
        select(*_COLUMNS)
        .join(
            RawAsset, (RawAsset.measurement_id == Measurement.id) & (RawAsset.state == AssetState.COMMITTED)
        )
        .join(Specimen, Specimen.id == Measurement.specimen_id)
        .join(Sample, Sample.id == Specimen.sample_id)
        .outerjoin(InstrumentSettings, InstrumentSettings.measurement_id == Measurement.id)
        .outerjoin(Dot, Dot.id == Measurement.dot_id)
        .outerjoin(Setup, Setup.id == Measurement.setup_id)
        .order_by(Measurement.id)
    )


@functools.cache
def _around_query() -> Any:
    """Measurements ``ids``, the rest of their series, and the dot-less ones of their specimens."""
    ids: BindParameter[list[int]] = bindparam("ids", expanding=True)
    near = select(Measurement.specimen_id).where(Measurement.id.in_(ids))
    series = select(Measurement.series_name).where(
        Measurement.id.in_(ids), Measurement.series_name.is_not(None)
    )
    return _base_query().where(
        Measurement.id.in_(ids)
        | (
            Measurement.specimen_id.in_(near)
            & (Measurement.dot_id.is_(None) | Measurement.series_name.in_(series))
        )
    )


def load(
    s: Session,
    *,
    specimen_ids: Iterable[int] | None = None,
    selection: Selection = Selection(),
    around: Sequence[int] | None = None,
) -> Scope:
    """Every committed measurement of the selected samples/specimens (or of ``specimen_ids``).

    ``around`` narrows the scope to what targets over these measurements can
    read: themselves, the rest of their series, and the measurements without a
    dot on their specimens (every companion is one). A job rebuilds its target
    this way, without loading the whole specimen.
    """
    params: dict[str, Any] = {}
    if around is not None:
        q = _around_query()
        params["ids"] = list(around)
    else:
        q = _base_query()
    if specimen_ids is not None:
        q = q.where(Measurement.specimen_id.in_(list(set(specimen_ids))))
    if selection.sample:
        q = q.where(Sample.name == selection.sample)
    if selection.specimen:
        q = q.where(Specimen.name == selection.specimen)
    rows = s.execute(q, params).all()
    roles = _roles(s, (r[4] for r in rows if r[4] is not None))
    acqs: list[Acquisition] = []
    where: dict[int, _Where] = {}
    for (
        mid, kind, spec_id, dot_id, setup_id, duration_s, series_name, series_index,
        data_kind, has_nanotimes, resolution_ps, nanotime_res, channel_counts, data_sha256, store_path,
        mode, wavelength, intensity, rep_rate, spec_name, purpose, smp_name, material, gamma, dot_label,
        ccd_offset, ccd_read_noise,
    ) in rows:  # fmt: skip
        counts = {str(k): int(v) for k, v in (channel_counts or {}).items()}
        chans = roles.get(setup_id) if setup_id else None
        det, ha, hb, sync, source = channel_groups(counts, chans.roles if chans else None)
        acqs.append(
            Acquisition(
                measurement_id=mid,
                kind=_value(kind),
                specimen_id=spec_id,
                specimen_purpose=_value(purpose),
                dot_id=dot_id,
                setup_id=setup_id,
                data_kind=_value(data_kind),
                has_nanotimes=bool(has_nanotimes),
                resolution_ps=resolution_ps,
                nanotime_resolution_ps=nanotime_res,
                duration_s=duration_s,
                channel_counts=counts,
                detectors=det,
                hbt_a=ha,
                hbt_b=hb,
                sync=sync,
                channel_source=source,
                excitation_mode=_value(mode) if mode else None,
                excitation_wavelength_nm=wavelength,
                intensity_w_cm2=intensity,
                repetition_rate_mhz=rep_rate,
                series_name=series_name,
                series_index=series_index,
                data_sha256=data_sha256 or "",
                store_path=store_path,
                dark_cps=chans.dark(det) if chans else None,
                jitter_a_ps=chans.jitter(ha) if chans and ha else None,
                jitter_b_ps=chans.jitter(hb) if chans and hb else None,
                ccd_offset_counts=ccd_offset,
                ccd_read_noise_counts=ccd_read_noise,
            )
        )
        where[mid] = _Where(
            smp_name, {"decay_rate_solution_per_us": gamma, "material": material}, spec_name, dot_label
        )
    return Scope(tuple(acqs), where)


def _selected(a: Acquisition, w: _Where, selection: Selection) -> bool:
    if selection.kinds and a.kind not in selection.kinds:
        return False
    if selection.dot and w.dot != selection.dot:
        return False
    return not (selection.measurement_ids and a.measurement_id not in selection.measurement_ids)


def _companions(analysis: Analysis, main: Acquisition, scope: Scope) -> list[Acquisition]:
    out = []
    for comp in analysis.companions:
        candidates = [
            c
            for c in scope.acquisitions
            if c.specimen_id == main.specimen_id
            and c.measurement_id != main.measurement_id
            and comp.candidate(c)
        ]
        chosen = comp.choose(main, candidates)
        if chosen is not None:
            out.append(replace(chosen, role=comp.role))
    return out


def _context(analysis: Analysis, w: _Where) -> dict[str, Any]:
    if not analysis.sample_context:
        return {}
    return {"sample": w.sample, **{k: w.sample_values.get(k) for k in analysis.sample_context}}


def _place(w: _Where) -> str:
    return f"{w.specimen}/{w.dot}" if w.dot else w.specimen


def discover(
    s: Session, analysis: Analysis, selection: Selection = Selection(), *, scope: Scope | None = None
) -> list[Target]:
    """The targets of ``analysis`` among the selected, committed measurements."""
    if scope is None:
        scope = load(s, selection=selection)
    if analysis.grouping == "series":
        return _series_targets(analysis, selection, scope)
    targets = []
    for a in scope.acquisitions:
        w = scope.where[a.measurement_id]
        if not _selected(a, w, selection) or analysis.applies(a) is not None:
            continue
        targets.append(
            Target(
                analysis=analysis.name,
                key=f"measurement:{a.measurement_id}",
                specimen_id=a.specimen_id,
                dot_id=a.dot_id,
                measurement_id=a.measurement_id,
                series_name=None,
                label=f"{_place(w)} {a.kind} #{a.measurement_id}",
                inputs=(a, *_companions(analysis, a, scope)),
                context=_context(analysis, w),
            )
        )
    return targets


def _series_targets(analysis: Analysis, selection: Selection, scope: Scope) -> list[Target]:
    groups: dict[tuple[int, int | None, str], list[Acquisition]] = defaultdict(list)
    for a in scope.acquisitions:
        if a.series_name and analysis.applies(a) is None:
            groups[(a.specimen_id, a.dot_id, a.series_name)].append(a)
    targets = []
    for (spec_id, dot_id, name), members in sorted(groups.items(), key=lambda kv: str(kv[0])):
        # A series is analysed whole: any selected point selects it.
        if not any(_selected(m, scope.where[m.measurement_id], selection) for m in members):
            continue
        if analysis.series_applies is not None and analysis.series_applies(members) is not None:
            continue
        points = tuple(replace(m, role="point") for m in members)
        w = scope.where[members[0].measurement_id]
        targets.append(
            Target(
                analysis=analysis.name,
                key=f"series:{spec_id}:{dot_id if dot_id is not None else '-'}:{name}",
                specimen_id=spec_id,
                dot_id=dot_id,
                measurement_id=None,
                series_name=name,
                label=f"{_place(w)} series {name} ({len(points)} points)",
                inputs=(*points, *_companions(analysis, members[0], scope)),
                context=_context(analysis, w),
            )
        )
    return targets


@dataclass(frozen=True)
class Applicability:
    """Whether one analysis applies to one measurement, and why not."""

    analysis: str
    applies: bool
    reason: str  # why not, or what it reads


def applicability(s: Session, measurement_id: int, analyses: Sequence[Analysis]) -> list[Applicability]:
    """For every analysis: does it apply to this measurement (alone or through its series), and why not."""
    m = s.get(Measurement, measurement_id)
    if m is None:
        return []
    scope = load(s, specimen_ids=[m.specimen_id])
    acq = scope.by_id().get(measurement_id)
    if acq is None:
        return [Applicability(a.name, False, "no committed raw data") for a in analyses]
    out = []
    for an in analyses:
        why = an.applies(acq)
        if why is None and an.grouping == "series":
            members = [
                x
                for x in scope.acquisitions
                if x.series_name == acq.series_name
                and x.specimen_id == acq.specimen_id
                and x.dot_id == acq.dot_id
                and an.applies(x) is None
            ]
            why = an.series_applies(members) if an.series_applies else None
        if why is None:
            comps = _companions(an, acq, scope)
            what = ", ".join(f"{c.role} #{c.measurement_id}" for c in comps)
            out.append(Applicability(an.name, True, f"reads {what}" if what else ""))
        else:
            out.append(Applicability(an.name, False, why))
    return out


def target_of(s: Session, analysis: Analysis, key: str, measurement_ids: Sequence[int]) -> Target | None:
    """The target ``key`` of ``analysis`` as the catalog holds it now (None if it no longer applies)."""
    scope = load(s, around=measurement_ids)
    for t in discover(s, analysis, Selection(measurement_ids=tuple(measurement_ids)), scope=scope):
        if t.key == key:
            return t
    return None
