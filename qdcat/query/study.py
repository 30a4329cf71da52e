"""The study's figure set for one sample, from one command (``qdcat plot study``).

The figures of the reference study (the single-dot InP/ZnSe paper), drawn from the
catalog: population histograms and correlations over the sample's dots (Figs. 2b–d,
S4, S5), one example dot's spectrum, decay, cw and pulsed g2, power series and
blinking (Figs. 2a, 2d, 3, 4, 5), and the ensemble film's decay and saturation (Fig.
1b–c). Each comes with a one-line caption saying what it shows, with its numbers.
Figures already drawn by the analyses are reused; nothing is fitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qdcat.catalog.api import Catalog
from qdcat.errors import InvalidValueError, QdcatError

#: Figure of the study → (measurement kinds to look in, figure name the analyses draw), in order.
_DOT_FIGURES = (
    ("fig2a_spectrum", ("spectrum",), "spectrum"),
    ("fig2d_decay", ("decay", "g2_pulsed"), "decay"),
    ("fig3b_g2_cw", ("g2_cw",), "g2"),
    ("fig3c_g2_pulsed", ("g2_pulsed", "decay"), "g2_pulsed"),
    ("fig4b_power_series", ("power_series_point",), "power_series"),
    ("fig5a_trace", ("intensity_trace", "g2_cw"), "trace"),
    ("fig5c_on_off", ("intensity_trace", "g2_cw"), "on_off"),
    ("fig5c_survival", ("intensity_trace", "g2_cw"), "survival"),
    ("levels_trace", ("intensity_trace", "g2_cw", "decay", "g2_pulsed"), "levels_trace"),
)
#: The analysis whose stored result a figure shows (its headline goes into the caption).
_ANALYSIS_OF = {
    "spectrum": "spectrum",
    "decay": "decay",
    "g2": "g2_cw",
    "g2_pulsed": "g2_pulsed",
    "power_series": "power_series",
    "trace": "blinking",
    "on_off": "blinking",
    "survival": "blinking",
    "levels_trace": "levels",
    "saturation": "saturation",
}
_ENSEMBLE_FIGURES = (
    ("fig1b_film_decay", ("decay",), "decay"),
    ("fig1c_saturation", ("saturation_point",), "saturation"),
)
_POPULATION: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("fig2b_center_wavelength", "hist", ("center_nm",)),
    ("fig2c_linewidth", "hist", ("fwhm_nm",)),
    ("fig2d_inset_lifetimes", "hist", ("lifetime_ns",)),
    ("figS4_lifetime_vs_energy", "scatter", ("energy_ev", "lifetime_ns")),
    ("figS4_linewidth_vs_energy", "scatter", ("energy_ev", "fwhm_nm")),
    ("figS5_g2_zero", "hist", ("g2_zero",)),
)


@dataclass(frozen=True)
class StudyFigure:
    name: str
    figure: Any
    caption: str


def study_figures(cat: Catalog, sample: str, *, dot: str | None = None) -> list[StudyFigure]:
    """The study's figures for ``sample``; ``dot`` ("SPECIMEN/LABEL") picks the example dot
    (default: a dot with a power series, else the one with the most measurements)."""
    cat.get_sample(sample)  # a clear error for an unknown sample
    out = _population(cat, sample)
    specimen, label = _example_dot(cat, sample, dot)
    out += _dot(cat, sample, specimen, label)
    out += _ensemble(cat, sample)
    if not out:
        raise InvalidValueError(f"sample {sample!r} has no analysed results to draw; run `qdcat analyze`")
    return out


def save_study(figs: list[StudyFigure], folder: Path, *, fmt: str = "png", **save_kw: Any) -> Path:
    """Write every figure and ``captions.md`` (one line per file) into ``folder``; returns the index."""
    from qdcat import plots

    lines = ["# Figures", ""]
    for f in figs:
        path = plots.save_figure(f.figure, folder / f"{f.name}.{fmt}", **save_kw)
        lines.append(f"- `{path.name}` — {f.caption}")
    index = folder / "captions.md"
    index.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return index


def _population(cat: Catalog, sample: str) -> list[StudyFigure]:
    from qdcat.query import api as q
    from qdcat.query.figures import population_histogram, population_scatter

    out = []
    for name, kind, fields in _POPULATION:
        try:
            if kind == "hist":
                fig = population_histogram(cat, fields[0], by=None, sample=sample)
                stats = q.population(cat, fields[0], sample=sample).iloc[0]
                caption = (
                    f"{fields[0]} of {int(stats['n'])} dots: mean {stats['mean']:.4g} "
                    f"± {stats['mean_err']:.2g}, SD {stats['sd']:.3g}, "
                    f"range {stats['min']:.4g}–{stats['max']:.4g}"
                )
            else:
                fig = population_scatter(cat, fields[0], fields[1], by=None, sample=sample)
                c = q.correlation(cat, fields[0], fields[1], sample=sample)["all"]
                caption = (
                    f"{fields[1]} vs {fields[0]}: r = {c.pearson_r:.2f} (p = {c.pearson_p:.2g}, n = {c.n})"
                )
        except QdcatError:
            continue  # not measured in this sample
        out.append(StudyFigure(name, fig, caption))
    return out


def _example_dot(cat: Catalog, sample: str, dot: str | None) -> tuple[str | None, str | None]:
    if dot is not None:
        specimen, sep, label = dot.partition("/")
        if not sep:
            raise InvalidValueError(f"name a dot as SPECIMEN/LABEL (slide-1/QD001), got {dot!r}")
        return specimen, label
    rows = [m for m in cat.list_measurements(sample=sample) if m.dot]
    if not rows:
        return None, None
    series = [m for m in rows if m.kind.value == "power_series_point"]
    pick = series[0] if series else max(rows, key=lambda m: sum(r.dot == m.dot for r in rows))
    return pick.specimen, pick.dot


def _dot(cat: Catalog, sample: str, specimen: str | None, label: str | None) -> list[StudyFigure]:
    from qdcat.query.figures import measurement_figures

    if specimen is None or label is None:
        return []
    rows = cat.list_measurements(specimen=specimen, dot=label)
    if not rows:
        raise InvalidValueError(f"dot {specimen}/{label} has no measurements")
    cache: dict[int, dict[str, Any]] = {}
    out = []
    for name, kinds, figure in _DOT_FIGURES:
        # the longest acquisition of any of these kinds that has the figure (a long trace for Fig. 5)
        ids = [m.id for m in rows if m.kind.value in kinds]
        got = _first_figure(cat, ids, figure, cache, measurement_figures)
        if got is not None:
            mid, fig = got
            caption = f"{figure.replace('_', ' ')} of dot {specimen}/{label} (measurement {mid})"
            out.append(StudyFigure(name, fig, caption + _headline(cat, mid, figure)))
    return out


def _first_figure(
    cat: Catalog, ids: list[int], figure: str, cache: dict[int, dict[str, Any]], draw: Any
) -> Any:
    for mid in sorted(ids, key=lambda i: -(cat.get_measurement(i)["duration_s"] or 0.0)):
        if mid not in cache:
            try:
                cache[mid] = draw(cat, mid)
            except QdcatError:
                cache[mid] = {}
        if figure in cache[mid]:
            return mid, cache[mid][figure]
    return None


def _ensemble(cat: Catalog, sample: str) -> list[StudyFigure]:
    from qdcat.query.figures import measurement_figures

    rows = [m for m in cat.list_measurements(sample=sample) if m.dot is None]
    out = []
    cache: dict[int, dict[str, Any]] = {}
    for name, kinds, figure in _ENSEMBLE_FIGURES:
        ids = [m.id for m in rows if m.kind.value in kinds]
        got = _first_figure(cat, ids, figure, cache, measurement_figures)
        if got is not None:
            caption = f"ensemble {figure.replace('_', ' ')} (measurement {got[0]})"
            out.append(StudyFigure(name, got[1], caption + _headline(cat, got[0], figure)))
    return out


def _headline(cat: Catalog, mid: int, figure: str) -> str:
    """ ": τ = … ± …" — the stored result the figure shows, in one line."""
    from qdcat import jobs

    analysis = _ANALYSIS_OF.get(figure)
    if analysis is None:
        return ""
    for r in jobs.results_for_measurement(cat, mid):
        if r["analysis"] == analysis:
            text = jobs.headline(analysis, r)
            return f": {text}" if text else ""
    return ""
