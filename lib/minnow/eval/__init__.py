"""Evaluation: every model, ours and the references, scored on the same bytes.

The perplexity stage's rules share most of this package: `eval_set` writes the
texts (`eval_sets`), `reference_perplexity` scores a reference model on one of
them (`references`), and `perplexity` scores a minnow model (`scoring`) and
gathers everything into ppl.json (`ppl_json`); `perplexity` holds the arithmetic
all of them share. The reference rule's code never imports minnow's model code,
so changing the model does not rescore the references. The export stage scores
each GGUF file through llama.cpp over the same windows (`llama_cpp_scoring`), and
the downstream stage runs lm-evaluation-harness tasks on the exported HF folder
(`downstream_folder`) and on the references (`downstream`). What these jobs ask
a scheduler for is planned in `minnow.workflow.job_memory`.
"""
