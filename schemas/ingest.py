"""Tables the ingest job writes beside ``pages``: the quarantine and the per-file reconciliation."""

from schemas.base import Field, TableSchema

INGEST_ERRORS = TableSchema(
    name="ingest_errors",
    doc="Quarantine: one row per faulty file or record. Nothing bad vanishes; it lands here with a reason.",
    key=("error_id",),
    fields=(
        Field("error_id", "string", False, "sha256 of source_file, record_offset and reason (32 hex)"),
        Field("source_file", "string", False, "URI of the file"),
        Field("record_offset", "long", True, "Byte offset of the faulty record (stored bytes), null for the file"),
        Field("record_id", "string", True, "WARC-Record-ID, when the header was readable"),
        Field("url", "string", True, "WARC-Target-URI, when the header was readable"),
        Field("reason", "string", False, "Machine-readable reason, e.g. truncated_gzip, not_a_warc, http_404"),
        Field("message", "string", True, "Human-readable detail"),
        Field("run_id", "string", False, "Run that found the fault"),
    ),
)

INGEST_FILES = TableSchema(
    name="ingest_files",
    doc="One row per input file per run: the reconciliation records_in = written + skipped + errored.",
    key=("run_id", "source_file"),
    fields=(
        Field("run_id", "string", False, "Run that read (or skipped) the file"),
        Field("source_file", "string", False, "URI of the file"),
        Field("file_size", "long", True, "Size in bytes when known before reading (local files)"),
        Field("bytes_read", "long", True, "Stored (compressed) bytes consumed"),
        Field("status", "string", False, "complete | partial (fault after some records) | failed | already_ingested"),
        Field("records_in", "long", False, "WARC records seen, of every type"),
        Field("written", "long", False, "Rows this run added to pages"),
        Field(
            "skipped", "map<string,long>", False, "Records not written, by reason (record_type=…, content_type=…, …)"
        ),
        Field("errored", "long", False, "Records (or the file) that went to ingest_errors"),
        Field("seconds", "double", True, "Time the task spent on the file"),
    ),
)
