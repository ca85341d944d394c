"""Checkpoints trained outside minnow (a Hugging Face model id or folder, a GGUF file),
read through `transformers`.

`loaders` finds and loads them (references are scored through it); `init_import`
turns one into a minnow model folder that a fine-tune starts from; `tokenizer`
takes its tokenizer as a `pretrained` tokenizer entry. Kept apart from the code
that only reads minnow's own files, so that changing a loader reruns only the
steps that load checkpoints.
"""
