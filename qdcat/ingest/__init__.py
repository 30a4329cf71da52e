"""Ingest: instrument files → catalog + store.

Readers (one module per family of formats) turn a file into a
:class:`~qdcat.ingest.base.TimeTagSource`: a header and an iterator of event
blocks in qdcat's conventions. The pipeline (:mod:`qdcat.ingest.pipeline`)
is the only part that talks to the catalog.
"""
