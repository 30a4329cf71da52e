"""Where the light comes from: ``sample``, ``specimen`` and ``dot`` (add, list, show, import, delete)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qdcat.cli._app import CsvOpt, JsonOpt, SampleOpt, _catalog, _each_sample, _sub
from qdcat.cli.output import pick_format, render_record, render_rows, say

ReasonOpt = Annotated[str | None, typer.Option(help="Why (kept in the history).")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]

sample_app = _sub("sample", "Samples (synthesis batches).")
specimen_app = _sub("specimen", "Specimens (a sample on a substrate).")
dot_app = _sub("dot", "Dots (single emitters on a specimen).")


@sample_app.command("add")
def sample_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Unique sample name, e.g. InP-ZnSe-2026-03.")],
    material: Annotated[str, typer.Option(help="Material system, e.g. InP/ZnSe.")],
    core_diameter_nm: Annotated[float | None, typer.Option()] = None,
    total_diameter_nm: Annotated[float | None, typer.Option()] = None,
    synthesis_reference: Annotated[str | None, typer.Option()] = None,
    synthesized_on: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    abs_max_nm: Annotated[float | None, typer.Option()] = None,
    pl_peak_nm: Annotated[float | None, typer.Option()] = None,
    pl_fwhm_nm: Annotated[float | None, typer.Option()] = None,
    plqy_fraction: Annotated[float | None, typer.Option(help="Ensemble PL quantum yield, 0–1.")] = None,
    decay_rate_solution_per_us: Annotated[float | None, typer.Option()] = None,
    notes: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a sample (one synthesis batch).

    Example: qdcat sample add InP-A --material InP/ZnSe --core-diameter-nm 3.2 --pl-peak-nm 629
    """
    with _catalog(ctx) as cat:
        rec = cat.add_sample(
            name,
            material,
            core_diameter_nm=core_diameter_nm,
            total_diameter_nm=total_diameter_nm,
            synthesis_reference=synthesis_reference,
            synthesized_on=synthesized_on,
            abs_max_nm=abs_max_nm,
            pl_peak_nm=pl_peak_nm,
            pl_fwhm_nm=pl_fwhm_nm,
            plqy_fraction=plqy_fraction,
            decay_rate_solution_per_us=decay_rate_solution_per_us,
            notes=notes,
        )
    if as_json:
        render_record(rec, pick_format(True, False))
    else:
        say(f"added sample {rec['name']} ({rec['material']})")


@sample_app.command("list")
def sample_list(ctx: typer.Context, as_json: JsonOpt = False, as_csv: CsvOpt = False) -> None:
    """List samples with their numbers of specimens, dots and measurements.

    Example: qdcat sample list --csv
    """
    with _catalog(ctx) as cat:
        render_rows(cat.list_samples(), pick_format(as_json, as_csv), title="samples")


@sample_app.command("show")
def sample_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Sample name.")],
    as_json: JsonOpt = False,
) -> None:
    """Show one sample.

    Example: qdcat sample show InP-A --json
    """
    with _catalog(ctx) as cat:
        render_record(cat.get_sample(name), pick_format(as_json, False), title=f"sample {name}")


@sample_app.command("delete")
def sample_delete(
    ctx: typer.Context,
    name: str,
    force: Annotated[
        bool, typer.Option(help="Also delete its specimens, dots, measurements and raw data.")
    ] = False,
    reason: ReasonOpt = None,
    yes: YesOpt = False,
) -> None:
    """Delete a sample (refuses if it has data, unless --force; raw data go to the trash).

    Example: qdcat sample delete InP-old --force --reason "retired batch" --yes
    """
    from qdcat.cli.trash import confirm

    with _catalog(ctx) as cat:
        impact = cat.deletion_impact(sample=name)
        if not (force or not (impact.specimens or impact.measurements)):
            cat.delete_sample(name)  # refuses, saying what it holds and to pass --force
        what = f"{impact.specimens} specimen(s), {impact.dots} dot(s), {impact.measurements} measurement(s)"
        confirm(f"delete sample {name} with {what}?", yes)
        impact = cat.delete_sample(name, force=force, reason=reason)
    say(
        f"deleted sample {name} with {impact['specimens']} specimen(s), "
        f"{impact['measurements']} measurement(s)"
    )


@specimen_app.command("add")
def specimen_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Unique specimen name, e.g. the slide label.")],
    sample: Annotated[str, typer.Option(help="Sample it was made from.")],
    purpose: Annotated[str, typer.Option(help="single_dot (dilute) or ensemble (film).")] = "single_dot",
    preparation_method: Annotated[str | None, typer.Option(help="e.g. drop-cast, spin-coat.")] = None,
    concentration_nmol_l: Annotated[float | None, typer.Option()] = None,
    solvent: Annotated[str | None, typer.Option()] = None,
    substrate: Annotated[str | None, typer.Option()] = None,
    surface_density_per_um2: Annotated[float | None, typer.Option()] = None,
    prepared_on: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    notes: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Add a specimen (a sample on a substrate).

    Example: qdcat specimen add slide-1 --sample InP-A --preparation-method drop-cast --solvent toluene
    """
    with _catalog(ctx) as cat:
        rec = cat.add_specimen(
            name,
            sample,
            purpose=purpose,
            preparation_method=preparation_method,
            concentration_nmol_l=concentration_nmol_l,
            solvent=solvent,
            substrate=substrate,
            surface_density_per_um2=surface_density_per_um2,
            prepared_on=prepared_on,
            notes=notes,
        )
    say(f"added specimen {rec['name']} of sample {rec['sample']} ({rec['purpose']})")


@specimen_app.command("list")
def specimen_list(
    ctx: typer.Context,
    sample: SampleOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """List specimens.

    Example: qdcat specimen list --sample InP-A --sample CdSe-B
    """
    with _catalog(ctx) as cat:
        rows = [r for s in _each_sample(sample) for r in cat.list_specimens(s)]
    render_rows(rows, pick_format(as_json, as_csv), title="specimens")


@specimen_app.command("delete")
def specimen_delete(
    ctx: typer.Context,
    name: str,
    force: Annotated[bool, typer.Option(help="Also delete its dots, measurements and raw data.")] = False,
    reason: ReasonOpt = None,
    yes: YesOpt = False,
) -> None:
    """Delete a specimen (refuses if it has dots or data, unless --force; raw data go to the trash).

    Example: qdcat specimen delete slide-9 --force --yes
    """
    from qdcat.cli.trash import confirm

    with _catalog(ctx) as cat:
        impact = cat.deletion_impact(specimen=name)
        if not (force or not (impact.dots or impact.measurements)):
            cat.delete_specimen(name)  # refuses, saying what it holds and to pass --force
        confirm(
            f"delete specimen {name} with {impact.dots} dot(s), {impact.measurements} measurement(s)?", yes
        )
        impact = cat.delete_specimen(name, force=force, reason=reason)
    say(f"deleted specimen {name} with {impact['dots']} dot(s), {impact['measurements']} measurement(s)")


@dot_app.command("add")
def dot_add(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(help="Dot label, unique on its specimen.")],
    x_um: Annotated[float, typer.Argument(help="Stage x position, µm.")],
    y_um: Annotated[float, typer.Argument(help="Stage y position, µm.")],
    specimen: Annotated[str, typer.Option(help="Specimen the dot is on.")],
    z_um: Annotated[float | None, typer.Option()] = None,
    marker_label: Annotated[str | None, typer.Option(help="Nearest marker.")] = None,
    marker_dx_um: Annotated[float | None, typer.Option()] = None,
    marker_dy_um: Annotated[float | None, typer.Option()] = None,
    notes: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Add one dot at a stage position.

    Example: qdcat dot add QD73 12.5 40.0 --specimen slide-1 --marker-label M4 --marker-dx-um 3
    """
    with _catalog(ctx) as cat:
        rec = cat.add_dot(
            specimen,
            label,
            x_um,
            y_um,
            z_um=z_um,
            marker_label=marker_label,
            marker_dx_um=marker_dx_um,
            marker_dy_um=marker_dy_um,
            notes=notes,
        )
    say(f"added dot {rec['label']} on {rec['specimen']} at ({rec['x_um']:g}, {rec['y_um']:g}) µm")


@dot_app.command("import")
def dot_import(
    ctx: typer.Context,
    csv_file: Annotated[
        Path, typer.Argument(help="CSV with header label,x_um,y_um[,z_um,marker_label,...].")
    ],
    specimen: Annotated[str, typer.Option(help="Specimen the dots are on.")],
    skip_existing: Annotated[bool, typer.Option(help="Skip labels already on the specimen.")] = False,
) -> None:
    """Import dots from a CSV file, all or nothing.

    Example: qdcat dot import dots.csv --specimen slide-1 --skip-existing
    """
    with _catalog(ctx) as cat:
        res = cat.import_dots_csv(specimen, csv_file, skip_existing=skip_existing)
    say(
        f"imported {res['added']} dot(s) onto {specimen}"
        + (f", skipped {res['skipped']}" if res["skipped"] else "")
    )


@dot_app.command("list")
def dot_list(
    ctx: typer.Context,
    specimen: Annotated[str | None, typer.Option(help="Only this specimen's dots.")] = None,
    sample: SampleOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """List dots.

    Example: qdcat dot list --specimen slide-1 --csv
    """
    with _catalog(ctx) as cat:
        rows = [r for s in _each_sample(sample) for r in cat.list_dots(specimen=specimen, sample=s)]
    render_rows(rows, pick_format(as_json, as_csv), title="dots")


@dot_app.command("show")
def dot_show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="SPECIMEN/LABEL, e.g. slide-1/QD001.")],
    figures: Annotated[
        Path | None, typer.Option(help="Also write every figure of its measurements into this folder.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """One dot whole: position, notes, tags, exclusion, measurements, current results with QC, history.

    Example: qdcat dot show slide-1/QD001 --figures qd001/
    """
    from qdcat.query.cards import dot_card

    with _catalog(ctx) as cat:
        card = dot_card(cat, ref, figures_dir=figures)
    fmt = pick_format(as_json, False)
    if fmt.value == "json":
        render_record(card.to_dict(), fmt)
        return
    d = card.to_dict()
    head = d["dot"] | {"tags": ", ".join(card.tags) or None, "excluded": card.excluded}
    render_record(head, fmt, title=f"dot {ref}")
    render_rows(card.measurements, fmt, title="measurements")
    render_rows(card.results, fmt, title="current results")
    if card.history:
        render_rows(card.history, fmt, title="history")
    if card.figures:
        say(f"{len(card.figures)} figure(s) in {figures}")


@dot_app.command("delete")
def dot_delete(
    ctx: typer.Context,
    label: str,
    specimen: Annotated[str, typer.Option()],
    force: Annotated[bool, typer.Option(help="Also delete its measurements and raw data.")] = False,
    reason: ReasonOpt = None,
    yes: YesOpt = False,
) -> None:
    """Delete a dot (refuses if it has measurements, unless --force; raw data go to the trash).

    Example: qdcat dot delete QD012 --specimen slide-1 --force --reason "two dots in the spot" --yes
    """
    from qdcat.cli.trash import confirm

    with _catalog(ctx) as cat:
        known = any(d.label == label for d in cat.list_dots(specimen=specimen))
        n = len(cat.list_measurements(specimen=specimen, dot=label)) if known else 0
        if not known or (n and not force):
            cat.delete_dot(specimen, label)  # refuses: an unknown dot, or measurements without --force
        confirm(f"delete dot {specimen}/{label} with {n} measurement(s)?", yes)
        res = cat.delete_dot(specimen, label, force=force, reason=reason)
    say(f"deleted dot {label} on {specimen} with {res['measurements']} measurement(s)")
