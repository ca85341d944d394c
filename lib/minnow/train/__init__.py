"""Training: the loop and what only it uses.

`job` is what the train step runs (train, then write the model folder); `loop`
holds the Trainer (resume, eval, checkpoints, metrics); `settings` reads a
preset's `train:` section; `start` loads the weights a fine-tune starts from;
`optim`, `batches`, `checkpoint`, `parallel` (DDP, FSDP) and `memory` (the
micro-batch that fits a card) serve the loop; `launch` re-runs a job under
torchrun; `plots` draws the loss curve. The shared building blocks (`minnow.model`,
`minnow.tokens`, `minnow.devices`) live outside, since generation, evaluation and
export use them too.
"""
