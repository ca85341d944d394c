"""Training: the loop and what only it uses.

`job` is what the train step runs (train, then write the model folder); `loop`
holds the Trainer (resume, eval, checkpoints, metrics); `optim`, `batches` and
`checkpoint` serve the loop; `launch` re-runs a job under torchrun; `plots` draws
the loss curve. The shared building blocks (model, shards, tokenizer, devices)
stay at the package's top, since generation, evaluation and export use them too.
"""
