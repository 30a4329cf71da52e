"""The relational catalog: models, database access and the Python API."""
