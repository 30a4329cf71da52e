"""Figures: ``plot measurement|hist|scatter`` — stored fits redrawn, populations as histograms and scatter."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qdcat.cli._app import FlaggedOpt, MeasurementArg, SampleOpt, SourceOpt, WhereOpt, _catalog, _sub
from qdcat.cli.output import say

plot_app = _sub("plot", "Figures: a measurement with its fit, population histograms and scatter plots.")

FigOpt = Annotated[Path, typer.Option("--output", "-o", help="PNG, SVG or PDF file (by its suffix).")]
DpiOpt = Annotated[float, typer.Option(help="Raster resolution (PNG), dots per inch.", min=20, max=2400)]
SizeOpt = Annotated[
    str | None, typer.Option("--size", help="WIDTHxHEIGHT in inches, e.g. 3.4x2.6 for a journal column.")
]


def _size(value: str | None) -> tuple[float, float] | None:
    from qdcat.errors import InvalidValueError

    if value is None:
        return None
    w, _, h = value.lower().partition("x")
    try:
        return float(w), float(h)
    except ValueError:
        raise InvalidValueError(f"--size takes WIDTHxHEIGHT in inches (3.4x2.6), got {value!r}") from None


@plot_app.command("measurement")
def plot_measurement(
    ctx: typer.Context,
    measurement_id: MeasurementArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the figures.")] = Path("."),
    fmt: Annotated[str, typer.Option("--format", help="png, svg or pdf.")] = "png",
    dpi: DpiOpt = 150,
    size: SizeOpt = None,
) -> None:
    """A measurement's data with the fits of its current results (spectrum, decay, g2, blinking, series).

    Example: qdcat plot measurement 17 -o figs/ --format pdf --size 3.4x2.6
    """
    from qdcat.query import figures

    with _catalog(ctx) as cat:
        figs = figures.measurement_figures(cat, measurement_id)
        paths = figures.save_all(
            figs, output, f"measurement_{measurement_id}", fmt, dpi=dpi, size_in=_size(size)
        )
    for p in paths:
        say(str(p))


@plot_app.command("hist")
def plot_hist(
    ctx: typer.Context,
    param: str,
    output: FigOpt,
    by: Annotated[str | None, typer.Option(help="Overlay one histogram per value, e.g. sample.")] = "sample",
    source: SourceOpt = "dots",
    sample: SampleOpt = None,
    where: WhereOpt = None,
    include_flagged: FlaggedOpt = False,
    dpi: DpiOpt = 150,
    size: SizeOpt = None,
) -> None:
    """Histogram of a population, one overlay per group, with normal fits (QC failures left out).

    Example: qdcat plot hist lifetime_ns -o lifetimes.pdf --by sample
    """
    from qdcat import plots
    from qdcat.query import figures

    with _catalog(ctx) as cat:
        fig = figures.population_histogram(
            cat, param, by=by, source=source, sample=sample, where=where, include_flagged=include_flagged
        )
    say(str(plots.save_figure(fig, output, dpi=dpi, size_in=_size(size))))


@plot_app.command("scatter")
def plot_scatter(
    ctx: typer.Context,
    x: str,
    y: str,
    output: FigOpt,
    by: Annotated[str | None, typer.Option(help="Colour by this field, e.g. sample.")] = "sample",
    source: SourceOpt = "dots",
    sample: SampleOpt = None,
    where: WhereOpt = None,
    include_flagged: FlaggedOpt = False,
    dpi: DpiOpt = 150,
    size: SizeOpt = None,
) -> None:
    """Scatter of two fields with error bars and a regression line (QC failures left out).

    Example: qdcat plot scatter energy_ev lifetime_ns -o tau_vs_e.pdf --by sample
    """
    from qdcat import plots
    from qdcat.query import figures

    with _catalog(ctx) as cat:
        fig = figures.population_scatter(
            cat, x, y, by=by, source=source, sample=sample, where=where, include_flagged=include_flagged
        )
    say(str(plots.save_figure(fig, output, dpi=dpi, size_in=_size(size))))


@plot_app.command("raw")
def plot_raw(
    ctx: typer.Context,
    measurement_id: MeasurementArg,
    output: FigOpt,
    what: Annotated[str, typer.Option(help="auto, trace, tcspc, g2 or spectrum.")] = "auto",
    bin_ms: Annotated[float, typer.Option(help="Trace bin (ms).")] = 10.0,
    bin_ps: Annotated[float | None, typer.Option(help="TCSPC or g2 bin (ps).")] = None,
    window_ns: Annotated[float, typer.Option(help="g2 delay range ± (ns).")] = 200.0,
    dpi: DpiOpt = 150,
    size: SizeOpt = None,
) -> None:
    """A quick look at raw data, straight from the store: no analysis needed (nor stored).

    Example: qdcat plot raw 17 --what g2 --bin-ps 500 -o g2.png
    """
    from qdcat import plots
    from qdcat.query.quicklook import raw_figure

    with _catalog(ctx) as cat:
        fig = raw_figure(cat, measurement_id, what, bin_ms=bin_ms, bin_ps=bin_ps, window_ns=window_ns)
    say(str(plots.save_figure(fig, output, dpi=dpi, size_in=_size(size))))


@plot_app.command("study")
def plot_study(
    ctx: typer.Context,
    sample: Annotated[str, typer.Option(help="The sample whose figures to draw.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the figures.")],
    dot: Annotated[
        str | None, typer.Option(help="Example dot, SPECIMEN/LABEL (default: one with a power series).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="png, svg or pdf.")] = "png",
    dpi: DpiOpt = 150,
    size: SizeOpt = None,
) -> None:
    """The study's figure set for a sample, with a caption per file in captions.md.

    Population histograms and correlations, an example dot's spectrum, decay, g2, power
    series and blinking, the film's decay and saturation — drawn from stored results.

    Example: qdcat plot study --sample InP-A -o paper-figures/ --format pdf --size 3.4x2.6
    """
    from qdcat.errors import InvalidValueError
    from qdcat.query.study import save_study, study_figures

    if fmt not in ("png", "svg", "pdf"):
        raise InvalidValueError(f"--format must be png, svg or pdf, got {fmt!r}")
    with _catalog(ctx) as cat:
        figs = study_figures(cat, sample, dot=dot)
    index = save_study(figs, output, fmt=fmt, dpi=dpi, size_in=_size(size))
    say(f"{len(figs)} figure(s) in {output}; captions in {index}")
