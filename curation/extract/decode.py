"""HTTP body bytes → HTML text, choosing the charset the way a browser would, plus a detection fallback.

Sources, in order (the first that decodes cleanly wins; ``Decoded.charset_source`` says which):

1. ``bom``: a UTF-8 / UTF-16 byte-order mark. Authoritative, as in browsers.
2. ``header``: the charset of the HTTP ``Content-Type`` (``declared``).
3. ``meta``: ``<meta charset>``, ``<meta http-equiv="Content-Type" content="...; charset=...">`` or an XML
   declaration's ``encoding`` in the first :data:`META_SCAN_BYTES` bytes.
4. ``detected``: pure ASCII is ``cp1252``; a body that decodes cleanly as UTF-8 is ``utf-8``; otherwise
   charset-normalizer on at most :data:`DETECT_BYTES` bytes starting just before the first non-ASCII
   byte (markup and scripts before it are plain ASCII and tell the detector nothing; it is slow on big inputs).
5. ``fallback``: UTF-8 with ``errors="replace"``, kept only when at most 1 % of the characters are replacements.

Labels are mapped to Python codecs as the WHATWG Encoding Standard maps them, e.g. ``iso-8859-1``, ``latin-1``
and ``ascii`` mean windows-1252 (``cp1252``, decoded with its five undefined bytes passed through as C1 controls,
so it never fails), ``gb2312``/``gbk`` mean ``gb18030``, ``shift_jis`` means ``cp932``. Labels that name no web
encoding (``none``, ``x-user-defined``, ``utf-7``, ``base64``, typos) are ignored, never trusted.

A charset "decodes cleanly" when at most one byte in :data:`TOLERATED_BAD_PER` decoded characters is invalid (each
becomes U+FFFD), so a stray bad byte in a long page does not throw the declaration away; a wrong declaration produces
far more and falls through to the next source. UTF-8 is self-synchronizing and its multi-byte sequences almost never
occur by chance, so for it the bar is relative to the evidence: a damaged UTF-8 page (at least
:data:`UTF8_VALID_PER_BAD` valid non-ASCII characters per invalid byte) is still UTF-8, while legacy text declared as
UTF-8 (nearly every non-ASCII byte invalid) is not. For the same reason, when a single-byte legacy charset is declared
but a non-ASCII body decodes cleanly as UTF-8, the body is UTF-8 and the source is ``detected``. An incomplete
multi-byte sequence at the very end (a body cut at the ingest cap) is dropped, not counted.

Binary served as HTML (image/PDF/archive magic numbers, or more than 1 % NUL/control bytes in the first 8 KiB) gives
``error="binary_content"`` (a UTF-16 header without a BOM is tried first, and believed only for text with ASCII
markup, :data:`MIN_UTF16_ASCII_FRACTION`); an empty body ``error="empty"``; a body no source decodes
``error="undecodable"``. :func:`decode_html` never raises.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

META_SCAN_BYTES = 8192
"""How far into the body ``<meta>`` charset declarations are looked for (WHATWG scans 1024; real pages put the
meta after long inline scripts often enough to look further)."""
DETECT_BYTES = 64 * 1024
"""Bytes given to charset-normalizer (its cost grows with the input)."""
PROBE_BYTES = 64 * 1024
"""A codec is first tried on this many bytes of a long body, which a wrong one already fails."""
TOLERATED_BAD_PER = 10_000
"""A declared or detected charset may leave one invalid byte per this many decoded characters."""
UTF8_VALID_PER_BAD = 10
"""UTF-8 may leave more invalid bytes, as long as there are this many valid non-ASCII characters per invalid byte."""
FALLBACK_MAX_BAD_FRACTION = 0.01
"""The UTF-8 fallback is kept only when at most this fraction of its characters are U+FFFD."""
SNIFF_BYTES = 8192
"""Prefix examined for binary content."""
MIN_UTF16_ASCII_FRACTION = 0.1
"""A UTF-16 declaration without a BOM is believed only when at least this fraction of the first characters are
ASCII (the markup)."""


@dataclass(frozen=True)
class Decoded:
    """The result of :func:`decode_html`."""

    text: str | None
    """The decoded HTML; None when ``error`` is set."""
    charset: str | None
    """Python codec actually used, normalized (``utf-8``, ``cp1252``, ``gb18030``, ``utf-16-le``...)."""
    charset_source: str | None
    """Where the charset came from: ``bom`` | ``header`` | ``meta`` | ``detected`` | ``fallback``."""
    error: str | None
    """None, or why there is no text: ``empty`` | ``binary_content`` | ``undecodable``."""


# --------------------------------------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------------------------------------

WEB_CODECS = frozenset(
    ["utf-8", "utf-16-le", "utf-16-be", "cp866", "koi8-r", "koi8-u", "mac-roman", "mac-cyrillic", "cp874"]
    + [f"iso8859-{n}" for n in (2, 3, 4, 5, 6, 7, 8, 10, 13, 14, 15, 16)]
    + [f"cp125{n}" for n in range(9)]
    + ["gb18030", "big5hkscs", "euc_jp", "iso2022_jp", "cp932", "cp949"]
)
"""The Python codecs of the WHATWG encodings; any label resolving to something else is ignored."""

_LABELS = {
    # WHATWG labels Python does not know, or knows as something else
    "x-mac-roman": "mac-roman",
    "x-mac-cyrillic": "mac-cyrillic",
    "x-mac-ukrainian": "mac-cyrillic",
    "iso-8859-8-i": "iso8859-8",
    "csiso88598i": "iso8859-8",
    "logical": "iso8859-8",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "ms_kanji": "cp932",
    "csshiftjis": "cp932",
    "x-euc-jp": "euc_jp",
    "cseucpkdfmtjapanese": "euc_jp",
    "x-gbk": "gb18030",
    "chinese": "gb18030",
    "csgb2312": "gb18030",
    "iso-ir-58": "gb18030",
    "x-x-big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "csbig5": "big5hkscs",
    "dos-874": "cp874",
    "unicode-1-1-utf-8": "utf-8",
    "unicode11utf8": "utf-8",
    "unicode20utf8": "utf-8",
    "x-unicode20utf8": "utf-8",
    "ucs-2": "utf-16-le",
    "unicode": "utf-16-le",
    "csunicode": "utf-16-le",
    "iso-10646-ucs-2": "utf-16-le",
    "unicodefeff": "utf-16-le",
    "unicodefffe": "utf-16-be",
    **{f"x-cp125{n}": f"cp125{n}" for n in range(9)},
}

_CODEC_ALIASES = {
    # Python codec name → the codec WHATWG decodes that label with (supersets browsers use)
    "ascii": "cp1252",
    "iso8859-1": "cp1252",
    "latin-1": "cp1252",
    "iso8859-9": "cp1254",
    "iso8859-11": "cp874",
    "tis-620": "cp874",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "big5": "big5hkscs",
    "utf-16": "utf-16-le",
    # supersets charset-normalizer proposes, decoded as the web encoding they extend
    "euc_jis_2004": "euc_jp",
    "euc_jisx0213": "euc_jp",
    "shift_jis_2004": "cp932",
    "shift_jisx0213": "cp932",
    "cp950": "big5hkscs",
    **{f"iso2022_jp_{v}": "iso2022_jp" for v in ("1", "2", "2004", "3", "ext")},
}

_UTF16 = frozenset({"utf-16-le", "utf-16-be"})
_SINGLE_BYTE = frozenset(c for c in WEB_CODECS if c.startswith(("cp8", "cp12", "iso8859", "koi8", "mac-")))


def normalize_charset(label: str | None) -> str | None:
    """The Python codec a charset label means on the web, or None for a label that names no web encoding.

    Tolerates the junk found in real headers: surrounding quotes and spaces, case, a trailing ``;``."""
    if not label or not isinstance(label, str):
        return None
    name = label.strip().strip("\"';,").strip().lower()
    if not name or len(name) > 40:
        return None
    codec = _LABELS.get(name)
    if codec is None:
        try:
            codec = codecs.lookup(name).name
        except (LookupError, ValueError):
            return None
    codec = _CODEC_ALIASES.get(codec, codec)
    return codec if codec in WEB_CODECS else None


# windows-1252 as WHATWG defines it: the five bytes cp1252 leaves undefined map to the C1 controls U+0081 etc.
_CP1252_TABLE = "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256))


# --------------------------------------------------------------------------------------------------------------------
# Binary sniffing
# --------------------------------------------------------------------------------------------------------------------

_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"%PDF-",
    b"PK\x03\x04",
    b"PK\x05\x06",
    b"\x1f\x8b",  # gzip (a body whose content encoding was never undone)
    b"\xff\xd8\xff",  # JPEG
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"RIFF",  # WebP, WAV, AVI
    b"\x00\x00\x01\x00",  # ICO
    b"\x7fELF",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",  # OLE (old Office)
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07",
    b"OggS",
    b"ID3",
    b"fLaC",
    b"wOFF",
    b"wOF2",
    b"\x00asm",
    b"BZh",
    b"\xfd7zXZ\x00",
    b"\x28\xb5\x2f\xfd",  # zstd
)

# WHATWG MIME sniffing's "binary data bytes": C0 controls other than TAB, LF, FF, CR and ESC
_BINARY_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])
_BINARY_CHARS_RE = re.compile("[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]")


_STRONG_MAGIC = (b"%PDF-", b"GIF87a", b"GIF89a")


def _has_magic(body: bytes) -> bool:
    for magic in _MAGIC:
        if body.startswith(magic):
            if magic.isascii() and magic.isalnum() and not body.startswith(_STRONG_MAGIC):
                # "BM", "ID3", "RIFF"... also start ordinary text: trust them only with a binary byte close behind
                return any(b in _BINARY_BYTES for b in body[len(magic) : 64])
            return True
    return body[4:8] == b"ftyp"  # MP4 / MOV / HEIC


def looks_binary_bytes(body: bytes) -> bool:
    """True for a known binary format's magic number or more than 1 % binary data bytes in the first 8 KiB."""
    if _has_magic(body):
        return True
    prefix = body[:SNIFF_BYTES]
    n = len(prefix) - len(prefix.translate(None, _BINARY_BYTES))
    return n * 100 > len(prefix)


def _ascii_fraction(text: str) -> float:
    prefix = text[:SNIFF_BYTES]
    return len(prefix.encode("ascii", "ignore")) / len(prefix) if prefix else 0.0


def looks_binary_text(text: str) -> bool:
    """The same test on already decoded text: more than 1 % binary control characters in the first 8192."""
    prefix = text[:SNIFF_BYTES]
    return len(_BINARY_CHARS_RE.findall(prefix)) * 100 > len(prefix)


# --------------------------------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------------------------------

_BAD_RE = re.compile("[\udc80-\udcff]")


def _decode(body: bytes, codec: str) -> tuple[str, int]:
    """(text, invalid bytes) with every invalid byte turned into U+FFFD; a trailing incomplete sequence is dropped."""
    if codec == "cp1252":
        return codecs.charmap_decode(body, "strict", _CP1252_TABLE)[0], 0
    try:
        return codecs.getincrementaldecoder(codec)("strict").decode(body, final=False), 0
    except UnicodeDecodeError:
        pass
    # surrogateescape turns each undecodable byte into a lone surrogate we can count, then replace
    text = codecs.getincrementaldecoder(codec)("surrogateescape").decode(body, final=False)
    bad = len(_BAD_RE.findall(text))
    return _BAD_RE.sub("\ufffd", text), bad


_NON_ASCII_RE = re.compile("[^\x00-\x7f\ufffd]")


def _clean(body: bytes, codec: str) -> str | None:
    """The text when ``codec`` decodes ``body`` cleanly (see the module docstring), else None."""
    try:
        if len(body) > 2 * PROBE_BYTES and not _acceptable(*_decode(body[:PROBE_BYTES], codec), codec):
            return None  # a wrong codec shows in the first bytes: do not pay for decoding a megabyte of errors
        text, bad = _decode(body, codec)
    except Exception:  # a codec bug must not escape: the next source gets its chance
        return None
    return text if _acceptable(text, bad, codec) else None


def _acceptable(text: str, bad: int, codec: str) -> bool:
    if bad == 0 or bad <= len(text) // TOLERATED_BAD_PER:
        return True
    return codec == "utf-8" and bad * UTF8_VALID_PER_BAD <= len(_NON_ASCII_RE.findall(text))


_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_META_RE = re.compile(
    rb"""<meta\b[^>]*?\bcharset\s*=\s*["']?\s*([a-z0-9_.:()\-]+)""",
    re.IGNORECASE,
)
_XML_DECL_RE = re.compile(rb"""^\s*<\?xml\b[^>]*?\bencoding\s*=\s*["']([a-z0-9_.:\-]+)["']""", re.IGNORECASE)


def meta_charset(body: bytes) -> str | None:
    """The charset label a ``<meta>`` tag or XML declaration in the first :data:`META_SCAN_BYTES` bytes names."""
    prefix = body[:META_SCAN_BYTES]
    match = _META_RE.search(prefix) or _XML_DECL_RE.search(prefix)
    return match.group(1).decode("ascii", "replace") if match else None


def detect_charset(body: bytes) -> list[str]:
    """Codecs for a body that declares none, best first, restricted to :data:`WEB_CODECS`: ``cp1252`` for pure
    ASCII (``iso2022_jp`` when it has that encoding's escape sequences), ``utf-8`` for a body that decodes cleanly as
    UTF-8, else charset-normalizer's proposals.

    charset-normalizer sees :data:`DETECT_BYTES` bytes from just before the first non-ASCII byte, cut after a byte
    that never occurs inside a multi-byte character of the legacy CJK encodings (ASCII below ``@``, digits
    excepted), so the sample does not end inside a character."""
    first = re.search(rb"[\x80-\xff]", body)
    if first is None:
        if _ISO2022JP_RE.search(body):
            return ["iso2022_jp"]  # 7-bit Japanese: escape sequences switch to JIS X 0208
        return ["cp1252"]  # pure ASCII: every ASCII-compatible codec gives the same text
    if _clean(body, "utf-8") is not None:
        return ["utf-8"]  # valid multi-byte UTF-8 practically never happens by chance; the detector is slow
    start = max(0, first.start() - 256)
    sample = body[start : start + DETECT_BYTES]
    trims = [0]
    if len(sample) == DETECT_BYTES:
        last = None
        for boundary in _BOUNDARY_RE.finditer(sample, len(sample) - 4096):
            last = boundary.end()
        if last is not None:
            sample = sample[:last]
        else:
            # no such byte near the end (CJK text without markup): the cut may split a character of up to 4 bytes,
            # so one of 4 shorter samples ends on a boundary; the best match over all of them wins
            trims = [0, 1, 2, 3]
    from charset_normalizer import from_bytes

    matches = sorted(match for trim in trims for match in from_bytes(sample[: len(sample) - trim]))
    out: list[str] = []
    for match in matches:
        codec = normalize_charset(match.encoding)
        if codec is not None and codec not in out:
            out.append(codec)
    return out


_ISO2022JP_RE = re.compile(rb"\x1b\$[@B]")
_BOUNDARY_RE = re.compile(rb"[\x00-\x2f\x3a-\x3f]+")


def decode_html(body: bytes, declared: str | None = None) -> Decoded:
    """Decode an HTTP body to text; ``declared`` is the HTTP header's charset label (may be junk or None).

    See the module docstring for the order of sources and the rules. Never raises."""
    try:
        return _decode_html(body, declared)
    except Exception:  # the contract is "never raises": a surprise becomes a reason
        return Decoded(None, None, None, "undecodable")


def _decode_html(body: bytes, declared: str | None) -> Decoded:
    if body is None or not bytes(body).strip():
        return Decoded(None, None, None, "empty")
    body = bytes(body)
    if _has_magic(body):
        return Decoded(None, None, None, "binary_content")

    for bom, codec in _BOMS:
        if body.startswith(bom):
            text, _ = _decode(body[len(bom) :], codec)
            if looks_binary_text(text):
                return Decoded(None, None, None, "binary_content")
            return Decoded(text, codec, "bom", None)

    header = normalize_charset(declared)
    if header in _UTF16:
        # UTF-16 text is half NUL bytes: try it before sniffing bytes for binary. Any even-length byte string is
        # mostly valid UTF-16, so also ask for what HTML always has: ASCII markup (random bytes give ~0.2 %).
        text = _clean(body, header)
        if text is not None and not looks_binary_text(text) and _ascii_fraction(text) >= MIN_UTF16_ASCII_FRACTION:
            return Decoded(text, header, "header", None)
        header = None
    if looks_binary_bytes(body):
        return Decoded(None, None, None, "binary_content")

    meta = normalize_charset(meta_charset(body))
    if meta in _UTF16:
        meta = "utf-8"  # a meta readable as ASCII cannot be UTF-16; WHATWG reads it as UTF-8

    for source, codec in (("header", header), ("meta", meta)):
        if codec is None:
            continue
        if codec in _SINGLE_BYTE and not body.isascii():
            text = _clean(body, "utf-8")
            if text is not None:
                return Decoded(text, "utf-8", "detected", None)
        text = _clean(body, codec)
        if text is not None:
            return Decoded(text, codec, source, None)

    for codec in detect_charset(body):
        text = _clean(body, codec)
        if text is not None:
            return Decoded(text, codec, "detected", None)

    text, bad = _decode(body, "utf-8")
    if text.strip() and bad <= FALLBACK_MAX_BAD_FRACTION * len(text):
        return Decoded(text, "utf-8", "fallback", None)
    return Decoded(None, None, None, "undecodable")
