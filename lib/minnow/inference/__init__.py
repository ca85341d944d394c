"""A trained model put to use: generation over a KV cache, the chat `Assistant` shared by
the `minnow` command and Python callers, and the samples stage's page."""
