"""Reading WARC/ARC files: pure Python, no Spark. See :func:`curation.warc.records.read_file`."""

from curation.warc.records import FileReader, FileResult, read_file, stable_id
from curation.warc.sources import resolve_inputs
from curation.warc.streams import StreamFault, open_source

__all__ = ["FileReader", "FileResult", "StreamFault", "open_source", "read_file", "resolve_inputs", "stable_id"]
