"""Figures from the catalog: per measurement (data with the fit) and per population.

Per-measurement figures refit the stored data — the raw spectrum, or the
derived arrays (histograms, traces) a run kept in the store — with the run's
own parameters, so the curve drawn is the fit that produced the catalog's
numbers. The plotting itself is :mod:`qdcat.plots`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qdcat import plots
from qdcat.catalog.api import Catalog
from qdcat.errors import InvalidValueError, NotFoundError
from qdcat.jobs import derived_arrays, results_for_measurement
from qdcat.query import api as q


def measurement_figures(cat: Catalog, measurement_id: int) -> dict[str, Any]:
    """Figures of every current result that read ``measurement_id``, by name (e.g. ``"g2_cw"``)."""
    rows = results_for_measurement(cat, measurement_id)
    if not rows:
        raise NotFoundError(
            f"measurement {measurement_id} has no current results to plot; "
            f"run `qdcat analyze -m {measurement_id}`"
        )
    figs: dict[str, Any] = {}
    for r in rows:
        if r["measurement_id"] not in (None, measurement_id):
            continue  # read only as another measurement's companion (a background trace)
        figs.update(_figures_of_run(cat, r, measurement_id))
    return figs


def _figures_of_run(cat: Catalog, row: dict[str, Any], measurement_id: int) -> dict[str, Any]:
    from qdcat.analysis import fits
    from qdcat.analysis.blinking import analyze_blinking

    analysis, run, params = row["analysis"], row["run"], row["params"]
    label = f"measurement {measurement_id}"
    if analysis == "spectrum":
        a = cat.read_arrays(measurement_id)
        fit = fits.fit_lorentzian(
            a["wavelength_nm"],
            a["counts"],
            bias_counts=params["bias_counts"],
            read_noise_counts=params["read_noise_counts"],
        )
        return {
            "spectrum": plots.plot_spectrum(a["wavelength_nm"], a["counts"], fit, title=f"Spectrum, {label}")
        }
    d = derived_arrays(cat, run)
    if analysis == "decay":
        fit = fits.fit_decay(
            d["time_ns_edges"], d["counts"], start_after_peak_ns=params["start_after_peak_ns"]
        )
        return {"decay": plots.plot_decay(d["time_ns_edges"], d["counts"], fit, title=f"Decay, {label}")}
    if analysis == "g2_cw":
        rho_a, rho_b = row.get("signal_fraction_a"), row.get("signal_fraction_b")
        fit = fits.fit_g2_cw(
            d["delay_ns"],
            d["g2"],
            counts=d["counts"],
            rho_a=rho_a if rho_a and rho_b else None,
            rho_b=rho_b if rho_a and rho_b else None,
            free_baseline=params.get("free_baseline", False),
        )
        return {"g2": plots.plot_g2(d["delay_ns"], d["g2"], fit, title=f"cw g2, {label}")}
    if analysis == "g2_pulsed":
        res = fits.g2_pulsed(
            d["delay_ns"],
            d["counts"],
            period_ns=row["period_ns"],
            n_side_peaks=params["n_side_peaks"],
            half_window_ns=0.25 * row["period_ns"],
        )
        return {
            "g2_pulsed": plots.plot_pulsed_g2(d["delay_ns"], d["counts"], res, title=f"Pulsed g2, {label}")
        }
    if analysis == "blinking":
        width_s = params["bin_ms"] * 1e-3
        res = analyze_blinking(
            d["counts"], width_s, background_counts=d.get("background_counts"), k_sigma=params["k_sigma"]
        )
        t = np.arange(d["counts"].size) * width_s
        return {
            "trace": plots.plot_trace(
                t, d["counts"], res.threshold_counts, title=f"Intensity trace, {label}"
            ),
            "on_off": plots.plot_on_off(res, title=f"On/off durations, {label}"),
            "survival": plots.plot_survival(res, title=f"Survival of on/off periods, {label}"),
        }
    if analysis == "power_series":
        fit = fits.fit_power_series(
            d["intensity_w_cm2"],
            d["rate_per_us"],
            d["rate_per_us_err"],
            wavelength_nm=row["excitation_wavelength_nm"],
        )
        return {
            "power_series": plots.plot_power_series(
                d["intensity_w_cm2"],
                d["rate_per_us"],
                d["rate_per_us_err"],
                fit,
                title=f"Power series {row['series_name']}",
            )
        }
    if analysis == "saturation":
        fit = fits.fit_saturation(
            d["intensity_w_cm2"],
            d["pl_counts"],
            relative_noise=params["relative_noise"],
            decay_rate_per_us=row.get("decay_rate_per_us"),
            decay_rate_per_us_err=row.get("decay_rate_per_us_err") or 0.0,
            wavelength_nm=row["excitation_wavelength_nm"],
        )
        return {
            "saturation": plots.plot_saturation(
                d["intensity_w_cm2"], d["pl_counts"], fit, title=f"Ensemble saturation {row['series_name']}"
            )
        }
    if analysis == "biexciton":
        from qdcat.analysis.transient import fit_ta_biexponential

        a = cat.read_arrays(measurement_id)
        fit = fit_ta_biexponential(a["time_ps"], a["delta_a"])
        return {
            "transient_absorption": plots.plot_transient_absorption(
                a["time_ps"], a["delta_a"], fit, title=f"Transient absorption, {label}"
            )
        }
    return {}


def population_histogram(
    cat: Catalog, param: str, *, by: str | None = "sample", source: str = "dots", **select_kw: Any
) -> Any:
    df = q._view(cat, source, [param], by=by, **select_kw)
    if df.empty:
        raise InvalidValueError("no rows match the selection; check the filter and that results exist")
    groups = (
        {str(k): q._numeric(g, param) for k, g in df.groupby(by)} if by else {"all": q._numeric(df, param)}
    )
    return plots.plot_histogram(groups, xlabel=_label(param), title=f"{param} by {by}" if by else param)


def population_scatter(
    cat: Catalog, x: str, y: str, *, by: str | None = "sample", source: str = "dots", **select_kw: Any
) -> Any:
    need = [x, y]
    fields = {f.name for f in q.fields(source)}
    errs = [f"{v}_err" for v in (x, y) if f"{v}_err" in fields]
    df = q._view(cat, source, need + errs, by=by, **select_kw)
    if df.empty:
        raise InvalidValueError("no rows match the selection; check the filter and that results exist")
    return plots.plot_scatter(
        q._numeric(df, x),
        q._numeric(df, y),
        xlabel=_label(x),
        ylabel=_label(y),
        groups=df[by].astype(str).to_numpy() if by else None,
        x_err=q._numeric(df, f"{x}_err") if f"{x}_err" in df else None,
        y_err=q._numeric(df, f"{y}_err") if f"{y}_err" in df else None,
        title=f"{y} vs {x}",
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


def _label(name: str) -> str:
    """An axis label with its unit from the field's name: ``lifetime_ns`` → ``lifetime (ns)``."""
    for suffix in sorted(_UNITS, key=len, reverse=True):
        if name.endswith(suffix):
            return f"{name[: -len(suffix)].replace('_', ' ')} ({_UNITS[suffix]})"
    return f"{name.replace('_', ' ')} (dimensionless)"


def save_all(figs: dict[str, Any], folder: str | Path, stem: str, fmt: str = "png") -> list[Path]:
    if fmt not in ("png", "svg"):
        raise InvalidValueError(f"figure format must be png or svg, got {fmt!r}")
    return [plots.save_figure(fig, Path(folder) / f"{stem}_{name}.{fmt}") for name, fig in figs.items()]


__all__: Sequence[str] = ["measurement_figures", "population_histogram", "population_scatter", "save_all"]
