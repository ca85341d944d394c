"""Built-in offline corpora: generated or shipped with Python, needing no network."""
