"""minnow: raw text to a trained, benchmarked, exported small language model.

Each pipeline stage has a module here that does the work and is tested without
Snakemake; the thin scripts in workflow_scripts/ only wire Snakemake to it. The
packages say what they hold: `data` (raw text to a mixed corpus), `tokens`
(tokenizers, chat layout, token shards), `model`, `train`, `eval`, `export`,
`inference` (generation and chat), `pretrained` (checkpoints from outside minnow)
and `workflow` (what Snakemake and the step scripts call around the work). At
the top sits only what all of them use, and the `minnow` command (`cli`).
"""

__version__ = "0.1.0"
