"""Tokenization into Megatron indexed datasets and weighted mixtures of them (pure Python, no pyspark).

* ``tokenizer``: load an HF ``tokenizers`` tokenizer (``tokenizer.json`` or GPT-2 ``vocab.json`` + ``merges.txt``),
  its content hash, end-of-document id and the token dtype its vocabulary needs.
* ``indexed``: write and read megatron-core's ``IndexedDataset`` ``.bin``/``.idx`` format, atomically.
* ``config``: ``TokenizeConfig``, the settings that decide the bytes of a shard set.
* ``mixture``: ``mixture.yaml`` → components with weights → a pinned blend (prefixes and weights).
"""
