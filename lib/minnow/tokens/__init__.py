"""Text as token ids: the tokenizer, the chat layout at the id level, and token shards.

Every stage that reads or writes ids goes through here: train_tokenizer and the
shards write them, training reads them, evaluation, chat and export decode them.
"""
