"""The data half of the pipeline: download, read, normalise, filter, dedup, mix, split."""
