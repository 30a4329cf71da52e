"""The web view's routes: samples → specimens → dots → a dot's card → a measurement, populations, downloads.

Every route reads through the same Python API as the CLI (:mod:`qdcat.query`, the
catalog's listings); nothing here writes to the catalog, every route is GET only, and
every input is checked before it is used (names are looked up, never put into SQL).
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from qdcat._json import jsonable
from qdcat.catalog.api import Catalog, open_catalog
from qdcat.config import Config
from qdcat.errors import InvalidValueError, NotFoundError, QdcatError
from qdcat.query import api as q
from qdcat.query.filters import FilterError

log = logging.getLogger(__name__)

PAGE_SIZE = 100
"""Dots per page of the dots view."""
FIGURE_CACHE = 128
"""PNG figures kept in memory, newest used last."""
_MAX_NAME = 200


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["q"] = lambda v: quote(str(v), safe="")
    env.filters["cell"] = _cell
    return env


def _cell(v: Any) -> str:
    """A table cell: numbers to 4 significant digits, missing values empty."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


# ----------------------------------------------------------------------------- input checks


def _name(value: str, what: str) -> str:
    """A sample, specimen, dot or figure name from a URL: looked up later, so only its shape is checked."""
    if not value or len(value) > _MAX_NAME or value in (".", "..") or any(c in value for c in "/\\\0"):
        raise InvalidValueError(f"{what} {value[:_MAX_NAME]!r} is not a valid name")
    if not value.isprintable():
        raise InvalidValueError(f"{what} must be printable text")
    return value


def _positive_int(value: str | None, what: str) -> int:
    if value is None or not value.isdigit() or len(value) > 18 or int(value) < 1:
        raise InvalidValueError(f"{what} must be a positive whole number, got {str(value)[:40]!r}")
    return int(value)


def _selection(request: Request) -> dict[str, Any]:
    """The dots-view arguments shared by the page, the downloads and the API (sample, specimen, where)."""
    p = request.query_params
    samples = [_name(s, "sample") for s in p.getlist("sample") if s]
    specimen = p.get("specimen") or None
    where = p.get("where") or None
    if where is not None and len(where) > 4000:
        raise InvalidValueError("the filter is too long")
    return {
        "sample": samples or None,
        "specimen": _name(specimen, "specimen") if specimen else None,
        "where": where,
    }


def _columns(value: str | None, *, screen: bool) -> list[str] | None:
    """``columns=a,b,c`` (checked by the query against its whitelist), else the default."""
    if value:
        cols = [c.strip() for c in value.split(",") if c.strip()]
        if len(cols) > 300 or any(len(c) > 100 for c in cols):
            raise InvalidValueError("too many or too long column names")
        return cols
    return list(q.SCREEN_COLUMNS) if screen else None


def _sorted(df: pd.DataFrame, sort: str | None) -> pd.DataFrame:
    if not sort:
        return df
    column = sort.removeprefix("-")
    if column not in df.columns:
        raise InvalidValueError(f"cannot sort by {column[:60]!r}: not a column of this view")
    return df.sort_values(column, ascending=not sort.startswith("-"), kind="stable", na_position="last")


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: jsonable(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


# ----------------------------------------------------------------------------- the application


class _Views:
    """The route handlers, bound to one open catalog and one figure cache."""

    def __init__(self, cat: Catalog) -> None:
        self.cat = cat
        self.env = _env()
        self._figures: OrderedDict[tuple[int, int], dict[str, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def page(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(**context)
        return HTMLResponse(html, status_code=status)

    def samples(self, request: Request) -> Response:
        rows = [s.to_dict() for s in self.cat.list_samples()]
        return self.page("samples.html", samples=rows)

    def sample(self, request: Request) -> Response:
        name = _name(request.path_params["name"], "sample")
        detail = self.cat.get_sample(name)
        specimens = [s.to_dict() for s in self.cat.list_specimens(sample=name)]
        return self.page("sample.html", sample=detail.to_dict(), specimens=specimens)

    def dots_frame(self, request: Request, *, screen: bool = False) -> pd.DataFrame:
        """The dots view for a request: ``columns=a,b`` if given, else a screenful for the page
        (fast at 10⁴ dots: only the analyses shown are joined) and every column for files."""
        sort = request.query_params.get("sort") or None
        columns = _columns(request.query_params.get("columns"), screen=screen)
        if columns is not None and sort and sort.removeprefix("-") not in columns:
            columns.append(sort.removeprefix("-"))
        df = q.dots(self.cat, columns=columns, **_selection(request))
        return _sorted(df, sort)

    def dots(self, request: Request) -> Response:
        df = self.dots_frame(request, screen=True)
        page = _positive_int(request.query_params.get("page", "1"), "page")
        pages = max(1, math.ceil(len(df) / PAGE_SIZE))
        if page > pages:
            raise InvalidValueError(f"page {page} is past the last page ({pages})")
        rows = df.iloc[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        args = {k: v for k, v in request.query_params.multi_items() if k not in ("page", "sort", "token")}

        def link(**kw: Any) -> str:
            return "/dots?" + urlencode([*args.items(), *((k, v) for k, v in kw.items() if v)])

        return self.page(
            "dots.html",
            columns=list(df.columns),
            rows=rows.to_dict(orient="records"),
            total=len(df),
            page=page,
            pages=pages,
            sort=request.query_params.get("sort", ""),
            where=request.query_params.get("where", ""),
            link=link,
            download="?" + urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "page"]),
            excluded=int(df.attrs.get("excluded", 0)),
        )

    def dots_csv(self, request: Request) -> Response:
        body = self.dots_frame(request).to_csv(index=False)
        headers = {"Content-Disposition": 'attachment; filename="dots.csv"'}
        return Response(body, media_type="text/csv", headers=headers)

    def dots_json(self, request: Request) -> Response:
        return JSONResponse(_records(self.dots_frame(request)))

    def card(self, request: Request) -> Any:
        from qdcat.query.cards import dot_card

        specimen = _name(request.path_params["specimen"], "specimen")
        label = _name(request.path_params["label"], "dot")
        if not any(d.label == label for d in self.cat.list_dots(specimen=specimen)):
            raise NotFoundError(f"no dot {label!r} on specimen {specimen!r}")
        return dot_card(self.cat, f"{specimen}/{label}")

    def dot(self, request: Request) -> Response:
        return self.page("dot.html", card=self.card(request).to_dict())

    def measurement_record(self, request: Request) -> dict[str, Any]:
        from qdcat import jobs

        mid = _positive_int(request.path_params["id"], "measurement id")
        rec = self.cat.get_measurement(mid)
        results = [jsonable(r) for r in jobs.results_for_measurement(self.cat, mid)]
        return {"measurement": rec.to_dict(), "results": results}

    def measurement(self, request: Request) -> Response:
        record = self.measurement_record(request)
        mid = record["measurement"]["id"]
        names = sorted(self.figures(mid)) if record["results"] else []
        m, results = record["measurement"], record["results"]
        return self.page("measurement.html", m=m, results=results, figures=names)

    def figures(self, mid: int) -> dict[str, bytes]:
        """Every figure of a measurement as PNG, cached by (measurement, newest current run)."""
        from qdcat import jobs
        from qdcat.query.figures import measurement_figures

        runs = [r["run"] for r in jobs.results_for_measurement(self.cat, mid)]
        key = (mid, max(runs, default=0))
        with self._lock:
            if key in self._figures:
                self._figures.move_to_end(key)
                return self._figures[key]
        pngs = {name: _png(fig) for name, fig in measurement_figures(self.cat, mid).items()}
        with self._lock:
            self._figures[key] = pngs
            while len(self._figures) > FIGURE_CACHE:
                self._figures.popitem(last=False)
        return pngs

    def figure(self, request: Request) -> Response:
        mid = _positive_int(request.path_params["id"], "measurement id")
        name = _name(request.path_params["name"], "figure")
        self.cat.get_measurement(mid)
        pngs = self.figures(mid)
        if name not in pngs:
            raise NotFoundError(f"measurement {mid} has no figure {name!r}; it has {', '.join(sorted(pngs))}")
        return Response(pngs[name], media_type="image/png")

    def population_args(self, request: Request) -> dict[str, Any]:
        p = request.query_params
        param = p.get("param")
        if not param:
            raise InvalidValueError("name the quantity to show: ?param=lifetime_ns (see /api/fields)")
        source = p.get("source") or "dots"
        known = {f.name for f in q.fields(source)}
        by = p.get("by", "sample") or None
        for what, value in (("param", param), ("by", by)):
            if value is not None and value not in known:
                raise InvalidValueError(f"{what} {value[:60]!r} is not a field of {source!r}")
        return {"param": param, "by": by, "source": source, **_selection(request)}

    def population(self, request: Request) -> Response:
        args = self.population_args(request)
        table = q.population(self.cat, **args)
        if table.index.name is not None:  # the groups
            table = table.reset_index()
        query = urlencode([(k, v) for k, v in request.query_params.multi_items()])
        return self.page(
            "population.html",
            param=args["param"],
            by=args["by"],
            columns=list(table.columns),
            rows=table.to_dict(orient="records"),
            png="/population.png?" + query,
            flagged=int(table.attrs.get("flagged", 0)),
        )

    def population_png(self, request: Request) -> Response:
        from qdcat.query.figures import population_histogram

        fig = population_histogram(self.cat, **self.population_args(request))
        return Response(_png(fig), media_type="image/png")

    def api_samples(self, request: Request) -> Response:
        return JSONResponse([jsonable(s.to_dict()) for s in self.cat.list_samples()])

    def api_dot(self, request: Request) -> Response:
        return JSONResponse(jsonable(self.card(request).to_dict()))

    def api_measurement(self, request: Request) -> Response:
        return JSONResponse(jsonable(self.measurement_record(request)))

    def api_fields(self, request: Request) -> Response:
        source = request.query_params.get("source") or "dots"
        return JSONResponse([f.__dict__ for f in q.fields(source)])


def _png(fig: Any) -> bytes:
    from qdcat import plots

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=plots.DPI)
    return buf.getvalue()


def _routes(v: _Views) -> list[Route]:
    table: list[tuple[str, Callable[[Request], Response]]] = [
        ("/", v.samples),
        ("/samples/{name}", v.sample),
        ("/dots", v.dots),
        ("/dots.csv", v.dots_csv),
        ("/dots.json", v.dots_json),
        ("/dots/{specimen}/{label}", v.dot),
        ("/measurements/{id}", v.measurement),
        ("/figures/measurement/{id}/{name}.png", v.figure),
        ("/population", v.population),
        ("/population.png", v.population_png),
        ("/api/samples", v.api_samples),
        ("/api/dots", v.dots_json),
        ("/api/fields", v.api_fields),
        ("/api/dots/{specimen}/{label}", v.api_dot),
        ("/api/measurements/{id}", v.api_measurement),
    ]
    return [Route(path, endpoint, methods=["GET"]) for path, endpoint in table]


# ----------------------------------------------------------------------------- errors and access


def _error_handlers(v: _Views) -> dict[Any, Callable[..., Any]]:
    def reply(request: Request, status: int, message: str, position: int | None = None) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message, "position": position}, status_code=status)
        return v.page("error.html", status=status, status_code=status, message=message, position=position)

    def qdcat_error(request: Request, exc: Exception) -> Response:
        status = 404 if isinstance(exc, NotFoundError) else 400
        return reply(request, status, str(exc), getattr(exc, "position", None))

    def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return reply(request, exc.status_code, str(exc.detail), None)

    def server_error(request: Request, exc: Exception) -> Response:
        log.exception("web view: %s %s failed", request.method, request.url.path, exc_info=exc)
        return reply(request, 500, "internal error: the server log has the details")

    return {QdcatError: qdcat_error, HTTPException: http_error, Exception: server_error}


class _TokenGate:
    """Every request must carry the shared token (``Authorization: Bearer …`` or ``?token=…``)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        header = request.headers.get("authorization", "")
        given = header[7:] if header.lower().startswith("bearer ") else request.query_params.get("token", "")
        if not hmac.compare_digest(given.encode(), self.token):
            body = json.dumps({"error": "this server needs its access token (Authorization: Bearer …)"})
            response = Response(body, status_code=401, media_type="application/json")
            response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(catalog_config: Config, *, token: str | None = None) -> Starlette:
    """The read-only web view of the catalog ``catalog_config`` names; ``token`` guards every request."""
    from contextlib import asynccontextmanager

    from starlette.middleware import Middleware

    cat = open_catalog(config=catalog_config)
    views = _Views(cat)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        yield
        cat.close()

    middleware = [Middleware(_TokenGate, token=token)] if token else []
    app = Starlette(
        routes=_routes(views),
        exception_handlers=_error_handlers(views),
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.catalog = cat
    return app


__all__ = ["FIGURE_CACHE", "PAGE_SIZE", "FilterError", "create_app"]
