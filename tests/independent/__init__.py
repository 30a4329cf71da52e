"""An independent simulator of single-dot spectroscopy studies, for scoring qdcat on unseen data."""
