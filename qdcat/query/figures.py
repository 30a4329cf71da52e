"""Figures from the catalog: per measurement (its data with its stored results) and per population.

Per-measurement figures are drawn by each analysis's ``draw`` (declared in
``qdcat/analyses/<name>.py``) from the stored result row and the derived arrays
its run kept in the store: model curves are evaluated at the stored
parameters, nothing is fitted again. The plotting itself is :mod:`qdcat.plots`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from qdcat import analyses as registry
from qdcat import plots
from qdcat.analyses import DrawInput
from qdcat.catalog.api import Catalog
from qdcat.errors import InvalidValueError, NotFoundError
from qdcat.jobs import derived_arrays, result_parts, results_for_measurement
from qdcat.query import api as q


def _title(cat: Catalog, measurement_id: int) -> str:
    m = cat.get_measurement(measurement_id)
    parts = [m.get("sample"), m.get("specimen"), m.get("dot"), f"measurement {measurement_id}"]
    return " · ".join(str(p) for p in parts if p)


def measurement_figures(cat: Catalog, measurement_id: int) -> dict[str, Any]:
    """Figures of every current result that analysed ``measurement_id``, by name (e.g. ``"g2"``)."""
    rows = results_for_measurement(cat, measurement_id)
    if not rows:
        raise NotFoundError(
            f"measurement {measurement_id} has no current results to plot; "
            f"run `qdcat analyze -m {measurement_id}`"
        )
    title = _title(cat, measurement_id)
    figs: dict[str, Any] = {}
    for r in rows:
        if r["measurement_id"] not in (None, measurement_id):
            continue  # read only as another measurement's companion (a background trace)
        analysis = registry.get(r["analysis"])
        d = DrawInput(
            result=r,
            params=r["params"],
            arrays=derived_arrays(cat, r["run"]),
            raw=partial(cat.read_arrays, measurement_id),
            title=title,
            parts=result_parts(cat, analysis.name, r["run"]),
        )
        figs.update(analysis.draw(d))
    return figs


def _left_out(view: q.View) -> str:
    parts = [f"{view.flagged} flagged" for _ in [0] if view.flagged]
    parts += [f"{view.excluded} excluded" for _ in [0] if view.excluded]
    return f" ({', '.join(parts)} left out)" if parts else ""


def population_histogram(
    cat: Catalog,
    param: str,
    *,
    by: str | None = "sample",
    source: str = "dots",
    include_flagged: bool = False,
    **select_kw: Any,
) -> Any:
    """Histogram of ``param`` per group; results whose ``param`` failed QC are left out (and counted)."""
    view = q.population_rows(cat, source, [param], by=by, include_flagged=include_flagged, **select_kw)
    df = view.frame
    if df.empty:
        raise InvalidValueError(q._empty(view))
    groups = (
        {str(k): q._numeric(g, param) for k, g in df.groupby(by)} if by else {"all": q._numeric(df, param)}
    )
    title = (f"{_name(param)} by {by}" if by else _name(param)) + _left_out(view)
    return plots.plot_histogram(groups, xlabel=_label(param), title=title)


def population_scatter(
    cat: Catalog,
    x: str,
    y: str,
    *,
    by: str | None = "sample",
    source: str = "dots",
    include_flagged: bool = False,
    **select_kw: Any,
) -> Any:
    """y against x per group; results whose x or y failed QC are left out (and counted)."""
    need = [x, y]
    fields = {f.name for f in q.fields(source)}
    errs = [f"{v}_err" for v in (x, y) if f"{v}_err" in fields]
    view = q.population_rows(cat, source, need + errs, by=by, include_flagged=include_flagged, **select_kw)
    df = view.frame
    if df.empty:
        raise InvalidValueError(q._empty(view))
    return plots.plot_scatter(
        q._numeric(df, x),
        q._numeric(df, y),
        xlabel=_label(x),
        ylabel=_label(y),
        groups=df[by].astype(str).to_numpy() if by else None,
        x_err=q._numeric(df, f"{x}_err") if f"{x}_err" in df else None,
        y_err=q._numeric(df, f"{y}_err") if f"{y}_err" in df else None,
        title=f"{_name(y)} vs {_name(x)}" + _left_out(view),
    )


_UNITS = {
    "_nm": "nm",
    "_ev": "eV",
    "_mev": "meV",
    "_ns": "ns",
    "_ps": "ps",
    "_per_us": "µs⁻¹",
    "_per_ns": "ns⁻¹",
    "_cm2": "cm²",
    "_w_cm2": "W/cm²",
    "_cm2_per_j": "cm²/J",
    "_cps": "counts/s",
    "_counts": "counts",
    "_um": "µm",
    "_s": "s",
}


#: Axis labels in physics notation for the fields a lab plots most; others follow their names.
_PHYSICS = {
    "center_nm": "Emission wavelength λ (nm)",
    "energy_ev": "Emission energy E (eV)",
    "fwhm_nm": "Linewidth FWHM (nm)",
    "fwhm_mev": "Linewidth FWHM (meV)",
    "lifetime_ns": "Lifetime τ (ns)",
    "decay_rate_per_us": "Decay rate γ (µs⁻¹)",
    "g2_zero": "g⁽²⁾(0)",
    "g2_zero_corrected": "g⁽²⁾(0), background-corrected",
    "g2_pulsed_zero": "Pulsed g⁽²⁾(0)",
    "antibunching_rate_per_us": "Antibunching rate γ + w_p (µs⁻¹)",
    "on_fraction": "On-fraction",
    "levels_on_fraction": "On-fraction (change points)",
    "k_on_ml": "On-time exponent k_on",
    "k_off_ml": "Off-time exponent k_off",
    "k_on_cp": "On-time exponent k_on (change points)",
    "k_off_cp": "Off-time exponent k_off (change points)",
    "k_on": "On-time exponent k_on",
    "k_off": "Off-time exponent k_off",
    "sigma_cm2": "Absorption cross-section σ (cm²)",
    "saturation_intensity_w_cm2": "Saturation intensity I_S (W/cm²)",
    "intensity_w_cm2": "Excitation intensity I (W/cm²)",
    "count_rate_cps": "Count rate (counts/s)",
    "intensity_cps": "Level intensity (counts/s)",
    "intensity_rel": "Level intensity / brightest",
    "n_levels": "Intensity levels",
    "dim_lifetime_ratio": "τ_dim / τ_bright",
}


def _name(field: str) -> str:
    """A field's quantity without its unit, for titles: ``lifetime_ns`` → ``Lifetime τ``."""
    return _label(field).split(" (")[0]


def _label(name: str) -> str:
    """An axis label with its unit: physics notation for known fields, else from the name
    (``lifetime_ns`` → ``lifetime (ns)``)."""
    if name in _PHYSICS:
        return _PHYSICS[name]
    for suffix in sorted(_UNITS, key=len, reverse=True):
        if name.endswith(suffix):
            return f"{name[: -len(suffix)].replace('_', ' ')} ({_UNITS[suffix]})"
    return f"{name.replace('_', ' ')} (dimensionless)"


def save_all(
    figs: dict[str, Any],
    folder: str | Path,
    stem: str,
    fmt: str = "png",
    *,
    dpi: float = plots.DPI,
    size_in: tuple[float, float] | None = None,
) -> list[Path]:
    if fmt not in ("png", "svg", "pdf"):
        raise InvalidValueError(f"figure format must be png, svg or pdf, got {fmt!r}")
    return [
        plots.save_figure(fig, Path(folder) / f"{stem}_{name}.{fmt}", dpi=dpi, size_in=size_in)
        for name, fig in figs.items()
    ]


__all__: Sequence[str] = ["measurement_figures", "population_histogram", "population_scatter", "save_all"]
