"""The read-only web view of a catalog (``qdcat serve``): pages, downloads and a JSON API."""

from qdcat.web.app import create_app

__all__ = ["create_app"]
