"""``pages``: one row per HTML HTTP response record read from a WARC (or ARC) file."""

from schemas.base import Field, TableSchema

PAGES = TableSchema(
    name="pages",
    doc="One row per HTML HTTP response record. Raw payload kept (size-capped) so later stages never "
    "re-read the WARC; source_file + record_offset + record_length re-read the raw record.",
    key=("doc_id",),
    fields=(
        Field("doc_id", "string", False, "Stable id: sha256 of the WARC-Record-ID (ARC: of url+date+digest), 32 hex"),
        Field("record_id", "string", True, "WARC-Record-ID as written in the file"),
        Field("url", "string", True, "WARC-Target-URI"),
        Field("host", "string", True, "Lower-cased host name of the URL, without port"),
        Field("warc_date", "timestamp", True, "WARC-Date (UTC)"),
        Field("crawl_id", "string", True, "Crawl the record belongs to (e.g. CC-MAIN-2024-22), when known"),
        Field("source_file", "string", False, "URI of the WARC file the record was read from"),
        Field("record_offset", "long", True, "Byte offset of the record in source_file as stored (gzip member)"),
        Field("record_length", "long", True, "Bytes of the record in source_file as stored"),
        Field("http_status", "int", True, "HTTP status code"),
        Field("content_type", "string", True, "HTTP Content-Type without parameters, lower case"),
        Field("charset", "string", True, "Charset declared in the HTTP Content-Type header"),
        Field("payload", "binary", True, "HTTP body (transfer/content encodings decoded), capped"),
        Field(
            "payload_length", "long", True, "Bytes of the HTTP body as stored in the record (before content decoding)"
        ),
        Field("payload_truncated", "boolean", False, "True when the stored payload is shorter than the body"),
        Field("warc_truncated", "string", True, "WARC-Truncated reason given by the crawler, if any"),
        Field("payload_digest", "string", True, "WARC-Payload-Digest"),
        Field("ip_address", "string", True, "WARC-IP-Address"),
        Field("ingest_run_id", "string", False, "Run that wrote the row"),
    ),
)
