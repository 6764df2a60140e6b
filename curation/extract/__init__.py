"""HTML → text: the extraction stage's pure row logic (no pyspark).

* :func:`decode_html`: HTTP body bytes → HTML text, with the charset and where it came from (:mod:`.decode`).
* :func:`extract_html`: HTML text → title and main text with trafilatura, in process (:mod:`.html_text`).
* :class:`Extractor`: the same with a hard per-document time limit, in a child process (:mod:`.sandbox`).

Every outcome is data: a :class:`Decoded` carries an ``error`` instead of raising, an :class:`Extraction` a
``status`` and a ``reason`` (``extraction_empty`` / ``extraction_timeout`` / ``extraction_failed``).
"""

from curation.extract.decode import Decoded, decode_html, normalize_charset
from curation.extract.html_text import ExtractConfig, Extraction, extract_html
from curation.extract.sandbox import Extractor, ExtractorStartError

__all__ = [
    "Decoded",
    "ExtractConfig",
    "Extraction",
    "Extractor",
    "ExtractorStartError",
    "decode_html",
    "extract_html",
    "normalize_charset",
]
