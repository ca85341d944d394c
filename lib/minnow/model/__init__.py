"""The model: minnow's Llama-style Transformer, its size from the config alone, and the
folder every stage after training loads it from.

`transformer` is the network; `param_count` sizes it without torch (the workflow
calls it while Snakemake plans); `model_folder` writes and reads the finished model
as a Hugging Face Llama folder. Empty here, so that importing `param_count` does not
import torch.
"""
