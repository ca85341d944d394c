"""export: quantize a model (int8, int4-g128, mixed), write its HF folder and GGUF files.

input:  weights, tokenizer — the model folder's files; documents — its val eval set
output: quant — quant.json (sizes, compression, bits-per-byte deltas); the three
        quantized safetensors; hf — a Hugging Face folder; gguf — one file per type
params: gguf_types; windows — the window protocol the deltas use (ppl.json's); llama_cpp —
        the installed llama-cpp-python (installing it reruns export, which then scores each GGUF)
"""

from pathlib import Path

import torch

from minnow.atomic import write_json
from minnow.export.stage import export
from minnow.workflow import tracking

with tracking.step_run(snakemake, step="export") as run:
    torch.set_num_threads(snakemake.threads)
    out = snakemake.output
    report = export(
        Path(snakemake.input.weights).parent,
        Path(snakemake.input.documents),
        Path(out.quant).parent,
        snakemake.params.gguf_types,
        snakemake.params.windows,
        snakemake.threads,
    )
    write_json(out.quant, report)
    run.log_metrics(
        tracking.numeric_leaves({"fp32": report["fp32"], "schemes": report["schemes"], "gguf": report["gguf"]})
    )
    files = {**report["schemes"], **{f"gguf-{t}": g for t, g in report["gguf"].items()}}
    run.log_model_metrics({f"export.{name}.bytes": entry["bytes"] for name, entry in files.items()})
    for path in (out.quant, out.int8, out.int4, out.mixed, *out.gguf):
        run.log_artifact(path)
