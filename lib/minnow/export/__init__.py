"""The export stage: `stage` writes a model folder's exports and scores them;
`quantize` holds the INT8 / INT4-g128 / mixed formats (and loads them back);
`gguf_writer` writes and checks llama.cpp's GGUF files."""
