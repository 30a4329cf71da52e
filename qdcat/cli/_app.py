"""The root ``qdcat`` app: errors as one line and an exit code, readable help, the options every noun shares.

The noun modules (``admin``, ``samples``, ...) register their commands on
:data:`app` or on a sub-app made with :func:`_sub`; nothing heavy is imported here.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

_TYPE_NAMES = {str: "TEXT", int: "INTEGER", float: "FLOAT", bool: "BOOLEAN", Path: "PATH"}


def _type_name(param: TyperOption | TyperArgument) -> str:
    """What a value is, as click names it (TEXT, INTEGER, PATH …); a list option names its items."""
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", str)
    if get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    return _TYPE_NAMES.get(annotation, getattr(annotation, "__name__", "VALUE").upper())


class _Option(TyperOption):
    """An option in help: a flag shows no type, a value its metavar or TEXT / INTEGER / FLOAT / PATH."""

    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        return self.metavar or _type_name(self)


class _Argument(TyperArgument):
    """An argument in help: its name in capitals with its type, ``[NAME]`` when optional (as click)."""

    @property
    def display_name_raw(self) -> str:
        return f"{self.metavar or self.name}" + ("..." if self.nargs != 1 else "")

    def display_type_rich(self, ctx: Any) -> str | None:
        return _type_name(self)

    def _usage_display_name(self) -> str:
        name = f"{self.metavar or self.name}"
        return (name if self.required else f"[{name}]") + ("..." if self.nargs != 1 else "")


def _readable(param: Any) -> Any:
    """Typer shows every parameter's Python type (``<list[str]>``, ``<bool>``); show what to type instead.

    The parameters are made by Typer, so their class is switched here, once, to the two
    above (which add no state); a repeatable option says so at the end of its help.
    """
    if isinstance(param, TyperOption) and not isinstance(param, _Option):
        param.__class__ = _Option
        if param.multiple and "repeatable" not in (param.help or ""):
            param.help = f"{param.help} (repeatable)" if param.help else "Repeatable."
    elif isinstance(param, TyperArgument) and not isinstance(param, _Argument):
        param.__class__ = _Argument
        if param.metavar is None and param.name:
            param.metavar = param.name.upper()
    return param


class _Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return [_readable(p) for p in super().get_params(ctx)]


class _Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return [_readable(p) for p in super().get_params(ctx)]


class _App(typer.Typer):
    """A Typer app whose commands show readable help (see :func:`_readable`)."""

    def command(self, name: str | None = None, *, cls: type[TyperCommand] | None = None, **kw: Any) -> Any:
        return super().command(name, cls=cls or _Command, **kw)


class _QdcatGroup(_Group):
    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Usage errors as one ``error:`` line on stderr (exit 2), like every other error."""
        forward = (args, prog_name, complete_var, False, windows_expand_args)
        if not standalone_mode:
            return super().main(*forward, **extra)
        try:
            rv = super().main(*forward, **extra)
        except typer.Abort:
            typer.echo("aborted; nothing was changed", err=True)
            sys.exit(1)
        except typer.TyperException as exc:  # click's usage errors (typer vendors click)
            if not hasattr(exc, "format_message"):
                raise
            ctx = getattr(exc, "ctx", None)
            where = f"`{ctx.command_path} --help`" if ctx is not None else "`qdcat --help`"
            message = " ".join(exc.format_message().split())
            typer.echo(f"error: {message} (see {where})", err=True)
            sys.exit(getattr(exc, "exit_code", 2))
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: Any) -> Any:
        from qdcat.errors import QdcatError

        try:
            return super().invoke(ctx)
        except QdcatError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        except Exception as exc:
            known = _explain(exc)
            if known is None:
                raise
            typer.echo(f"error: {known}", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            typer.echo("interrupted; nothing half-written was kept", err=True)
            raise typer.Exit(130) from None


def _explain(exc: BaseException) -> Exception | None:
    """Failures of the machine rather than of qdcat — database down, disk full — as one line."""
    import errno

    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" ({exc.filename})" if exc.filename else ""
        return OSError(
            f"no space left on the disk{where}; free space, run `qdcat gc`, then run the command again — "
            "nothing half-written was kept"
        )
    if "sqlalchemy" in sys.modules or isinstance(exc, OverflowError):
        from qdcat.catalog.db import explain

        return explain(exc)
    return None


app = _App(
    name="qdcat",
    cls=_QdcatGroup,
    help="A measurement catalog for single-quantum-dot spectroscopy.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _sub(name: str, help: str) -> typer.Typer:
    """A sub-app for one noun; `qdcat --help` lists them in the order they are made."""
    sub = _App(name=name, help=help, cls=_Group, no_args_is_help=True, pretty_exceptions_enable=False)
    app.add_typer(sub)
    return sub


HomeOpt = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help="Catalog directory (default: $QDCAT_HOME or ~/.qdcat).",
        envvar="QDCAT_HOME",
        show_envvar=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="Print CSV.")]
ID_MAX = 2**63 - 1  # the catalog's ids are 64-bit on both backends
MeasurementArg = Annotated[int, typer.Argument(min=1, max=ID_MAX, help="Measurement id.")]
RunArg = Annotated[int, typer.Argument(min=1, max=ID_MAX, help="Analysis run id.")]
# Population options shared by the queries and the figures.
WhereOpt = Annotated[
    str | None,
    typer.Option(
        "--where", "-w", help='Filter, e.g. "g2_zero < 0.2 and lifetime_ns > 15" (`qdcat query fields`).'
    ),
]
SampleOpt = Annotated[list[str] | None, typer.Option("--sample", metavar="NAME", help="Only these samples.")]
FlaggedOpt = Annotated[
    bool,
    typer.Option("--include-flagged", help="Keep results whose quantity failed QC (left out by default)."),
]
ExcludedOpt = Annotated[
    bool,
    typer.Option("--include-excluded", help="Keep dots, measurements and results excluded by curation."),
]
SourceOpt = Annotated[
    str,
    typer.Option(
        "--from",
        help="'dots' (one row per dot), an analysis name (one row per result), or an analysis's parts "
        "('levels.level': one row per intensity level).",
    ),
]


def print_version() -> None:
    """What `qdcat version` and `qdcat --version` print."""
    from qdcat import __version__

    typer.echo(__version__)


def _version_flag(value: bool) -> None:
    if value:
        print_version()
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    home: HomeOpt = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_flag, is_eager=True, help="Print qdcat's version and exit."
        ),
    ] = False,
) -> None:
    ctx.obj = {"home": home}


def _home(ctx: typer.Context) -> Path | None:
    return ctx.find_root().obj.get("home") if ctx.find_root().obj else None


def _each_sample(samples: list[str] | None) -> list[str | None]:
    """Repeated ``--sample`` for a library call that takes one sample: each once, or None for all."""
    names: list[str | None] = [*dict.fromkeys(samples or [])]
    return names or [None]


def _catalog(ctx: typer.Context) -> Any:
    from qdcat.catalog.api import open_catalog

    return open_catalog(_home(ctx))


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())
