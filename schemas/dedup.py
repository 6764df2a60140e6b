"""``minhash_signatures``: the MinHash signature and LSH band keys of every document dedup has seen.

Kept so that a later run deduplicates new documents against earlier ones without recomputing their signatures.
A signature depends on ``signature_key`` (shingle size, permutations, seed, normalization and Unicode versions);
rows with another key are never compared with these. Band keys depend on ``bands`` × ``rows`` as well; a run with
another banding derives its keys from the stored signature.
"""

from schemas.base import Field, TableSchema

MINHASH_SIGNATURES = TableSchema(
    name="minhash_signatures",
    doc="MinHash signature and LSH band keys per document and signature setting; written by dedup, read by later runs.",
    key=("doc_id", "signature_key"),
    fields=(
        Field("doc_id", "string", False, "The document (documents.doc_id)"),
        Field("signature_key", "string", False, "Settings the signature depends on (ngram, num_perm, seed, versions)"),
        Field("text_hash", "string", False, "SHA-1 of the normalized text (exact-duplicate key)"),
        Field("shingles", "int", False, "Distinct shingles of the normalized text (0: empty text)"),
        Field("signature", "binary", False, "num_perm little-endian uint32 values, datasketch's hashvalues"),
        Field("bands", "int", False, "LSH bands the band keys were made for"),
        Field("rows", "int", False, "Signature values per band"),
        Field("band_keys", "array<long>", False, "One 64-bit key per band"),
        Field("documents_version", "long", False, "Version of documents the text was read from"),
        Field("run_id", "string", False, "Run that computed the signature"),
        Field("created_at", "timestamp", False, "When it was written (UTC)"),
    ),
)
