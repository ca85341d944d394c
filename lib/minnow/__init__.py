"""minnow: raw text to a trained, benchmarked, exported small language model.

Each pipeline stage has one module here that does the work and is tested without
Snakemake; the thin scripts in workflow_scripts/ only wire Snakemake to it.
"""

__version__ = "0.1.0"
