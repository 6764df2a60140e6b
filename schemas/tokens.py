"""Token shards and mixtures: what ``lakeforge tokenize`` and ``lakeforge mix`` write, what training reads.

``token_shards``: one row per shard set (a folder of Megatron ``.bin``/``.idx`` prefixes), keyed by
``shard_set_id``, the hash of everything that decides its bytes (source table and version, filter, tokenizer
files, settings). ``token_documents``: where every source document went (shard, position) or why it did not;
with it a training sample leads back to its ``doc_id`` and from there to its WARC record. ``mixtures``: one row
per pinned blend.
"""

from schemas.base import Field, TableSchema

TOKEN_SHARDS = TableSchema(
    name="token_shards",
    doc="One row per tokenized shard set: source table version and filter, tokenizer hash, counts, shard prefixes.",
    key=("shard_set_id",),
    fields=(
        Field("shard_set_id", "string", False, "Hash of source, version, filter, tokenizer and byte settings"),
        Field("name", "string", False, "Name given with --name (what mixtures refer to)"),
        Field("content_hash", "string", False, "sha256 over every shard file's sha256: equal iff the bytes are"),
        Field("source_table", "string", False, "Table the documents were read from"),
        Field("source_version", "long", False, "Its Delta version"),
        Field("filter", "string", True, "SQL condition the documents matched (null: all)"),
        Field("kept_only", "boolean", False, "Only rows with a null drop_reason were read"),
        Field("tokenizer_path", "string", False, "Tokenizer file or folder as given"),
        Field("tokenizer_kind", "string", False, "tokenizer.json or gpt2-bpe"),
        Field("tokenizer_sha256", "string", False, "sha256 of the tokenizer files"),
        Field("vocab_size", "long", False, "Largest token id + 1"),
        Field("eod_id", "long", True, "End-of-document id appended to every document (null: none)"),
        Field("dtype", "string", False, "uint16 or int32"),
        Field("settings", "string", False, "The settings that decide the bytes, as JSON"),
        Field("num_shards", "int", False, "Shards the documents were hashed into"),
        Field("records_in", "long", False, "Documents the filter matched"),
        Field("documents", "long", False, "Documents written to shards"),
        Field("rejected", "long", False, "Documents not written: null or empty text"),
        Field("errored", "long", False, "Documents the tokenizer failed on"),
        Field("tokens", "long", False, "Tokens written, end-of-document tokens included"),
        Field("bytes", "long", False, "Bytes of all .bin files"),
        Field("path", "string", False, "Folder (local path or s3a:// URI) of the shard set"),
        Field(
            "prefixes",
            "array<string>",
            False,
            "Shard prefixes (path or URI without .bin/.idx), in shard order: the files this row publishes",
        ),
        Field("shard_documents", "array<long>", False, "Documents per shard"),
        Field("shard_tokens", "array<long>", False, "Tokens per shard"),
        Field("bin_sha256", "array<string>", True, "sha256 of each shard's .bin file, in shard order"),
        Field("idx_sha256", "array<string>", True, "sha256 of each shard's .idx file, in shard order"),
        Field("bin_bytes", "array<long>", True, "Size of each shard's .bin file in bytes"),
        Field("idx_bytes", "array<long>", True, "Size of each shard's .idx file in bytes"),
        Field("run_id", "string", False, "Run that wrote it"),
        Field("code_version", "string", False, "lakeforge code version"),
        Field("created_at", "timestamp", False, "When it was written (UTC)"),
    ),
)

TOKEN_DOCUMENTS = TableSchema(
    name="token_documents",
    doc="Every document a shard set read: its shard and position (Megatron document index), or why it is absent.",
    key=("shard_set_id", "doc_id"),
    fields=(
        Field("shard_set_id", "string", False, "token_shards.shard_set_id"),
        Field("doc_id", "string", False, "The source document"),
        Field("shard", "int", True, "Shard number (null: not written)"),
        Field("position", "long", True, "Document index inside the shard's IndexedDataset (null: not written)"),
        Field("tokens", "long", True, "Tokens written, end-of-document token included"),
        Field("reason", "string", True, "Why it was not written: empty_text, tokenizer_error: ... (null: written)"),
    ),
)

MIXTURES = TableSchema(
    name="mixtures",
    doc="One row per pinned mixture: components resolved to shard sets, the blend training reads, its hash.",
    key=("mixture_id",),
    fields=(
        Field("mixture_id", "string", False, "sha256 of the pinned blend document"),
        Field("name", "string", False, "Mixture name from its YAML"),
        Field("spec", "string", False, "The mixture YAML's settings as canonical JSON"),
        Field("components", "array<string>", False, "Component names, in YAML order"),
        Field("weights", "array<double>", False, "Normalized component weights"),
        Field("shard_set_ids", "array<string>", False, "token_shards.shard_set_id of each component"),
        Field("component_tokens", "array<long>", False, "Tokens of each component"),
        Field("epochs", "array<double>", True, "Epochs of each component the token budget implies (null: no budget)"),
        Field("tokens_budget", "long", True, "Training tokens the epochs are computed for"),
        Field("seq_length", "int", False, "Sequence length of the GPT samples"),
        Field("split", "string", False, "train,valid,test split weights (Megatron's --split)"),
        Field("seed", "long", False, "Dataset shuffling seed"),
        Field("tokenizer_sha256", "string", False, "The one tokenizer every component shares"),
        Field("blend", "string", False, "The pinned blend as JSON (what `lakeforge mix` writes to its file)"),
        Field("path", "string", False, "Where the blend JSON was written"),
        Field("warnings", "array<string>", False, "Epoch limits exceeded, and other warnings"),
        Field("run_id", "string", False, "Run that pinned it"),
        Field("code_version", "string", False, "lakeforge code version"),
        Field("created_at", "timestamp", False, "When it was written (UTC)"),
    ),
)
