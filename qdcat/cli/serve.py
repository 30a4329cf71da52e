"""``serve``: the catalog's read-only web view (:mod:`qdcat.web`), served by uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from qdcat.cli._app import _home, app

_LOCAL = ("127.0.0.1", "localhost", "::1")


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on; another than localhost needs --token.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option(envvar="QDCAT_WEB_TOKEN", help="Token every request must carry (Bearer or ?token=)."),
    ] = None,
) -> None:
    """Serve the catalog read-only in a browser: samples, dots, cards, measurements, figures, downloads.

    Example: qdcat serve --host 0.0.0.0 --port 8000 --token "$QDCAT_WEB_TOKEN"
    """
    from qdcat.errors import InvalidValueError

    if host not in _LOCAL and not token:
        raise InvalidValueError(
            f"serving on {host} would open the catalog to the network: pass --token (or set QDCAT_WEB_TOKEN)"
        )
    if not 1 <= port <= 65535:
        raise InvalidValueError(f"port must lie in 1–65535, got {port}")
    import uvicorn

    from qdcat.config import load_config
    from qdcat.web import create_app

    uvicorn.run(create_app(load_config(_home(ctx)), token=token), host=host, port=port)
