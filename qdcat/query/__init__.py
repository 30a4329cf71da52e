"""Population queries over the catalog's current results."""
