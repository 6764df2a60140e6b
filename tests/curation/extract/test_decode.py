"""decode_html on inline bytes: every source (BOM, header, meta, detection, fallback), junk labels, binary, empty."""

from __future__ import annotations

import os
import random

import pytest

from curation.extract.decode import Decoded, decode_html, looks_binary_bytes, looks_binary_text, normalize_charset

FRENCH = "Le café est très bon à Paris, où l'été dure longtemps et où l'on mange des crêpes. "
JAPANESE = (
    "日本語のテキストです。これは文字コードの検出のためのテストです。東京は日本の首都で、多くの人が住んでいます。"
)
CHINESE = "这是一个用于测试字符编码检测的中文文本。北京是中国的首都，有着悠久的历史和丰富的文化。"
RUSSIAN = "Это текст на русском языке для проверки определения кодировки. Москва - столица России, большой город. "


def page(body: str, head: str = "") -> str:
    return f"<html><head>{head}<title>t</title></head><body><p>{body}</p></body></html>"


def test_empty_body():
    assert decode_html(b"") == Decoded(None, None, None, "empty")
    assert decode_html(b" \r\n\t ").error == "empty"
    assert decode_html(None).error == "empty"


@pytest.mark.parametrize(
    ("bom", "codec"),
    [(b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")],
)
def test_bom_wins_over_header_and_meta(bom, codec):
    html = page("naïve café", head='<meta charset="windows-1252">')
    body = bom + html.encode(codec)
    assert decode_html(body, "iso-8859-1") == Decoded(html, codec, "bom", None)


def test_header_charset():
    html = page("naïve café")
    assert decode_html(html.encode("utf-8"), "utf-8") == Decoded(html, "utf-8", "header", None)
    html = page(RUSSIAN)
    assert decode_html(html.encode("cp1251"), "windows-1251") == Decoded(html, "cp1251", "header", None)


@pytest.mark.parametrize("label", ["utf8", "UTF-8", '"utf-8"', "'utf-8'", " utf-8 ", "utf-8;"])
def test_header_label_spellings(label):
    html = page("naïve café")
    assert decode_html(html.encode("utf-8"), label) == Decoded(html, "utf-8", "header", None)


def test_header_utf16_without_bom():
    html = page("naïve café")
    assert decode_html(html.encode("utf-16-le"), "utf-16") == Decoded(html, "utf-16-le", "header", None)


def test_meta_charset_attribute():
    html = page(RUSSIAN, head='<meta charset="koi8-r">')
    assert decode_html(html.encode("koi8-r")) == Decoded(html, "koi8-r", "meta", None)


def test_meta_http_equiv_content_type():
    html = page(RUSSIAN, head='<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">')
    assert decode_html(html.encode("cp1251")) == Decoded(html, "cp1251", "meta", None)


def test_meta_after_long_inline_script():
    html = "<html><head><script>" + "var x = 1;\n" * 300 + "</script><meta charset='euc-jp'></head>"
    html += f"<body><p>{JAPANESE}</p></body></html>"
    assert decode_html(html.encode("euc_jp")) == Decoded(html, "euc_jp", "meta", None)


def test_xml_declaration_counts_as_meta():
    html = '<?xml version="1.0" encoding="ISO-8859-2"?>' + page("Zażółć gęślą jaźń")
    assert decode_html(html.encode("iso8859-2")) == Decoded(html, "iso8859-2", "meta", None)


def test_header_beats_meta():
    html = page(RUSSIAN, head='<meta charset="koi8-r">')
    assert decode_html(html.encode("cp1251"), "windows-1251").charset_source == "header"


def test_wrong_header_falls_through_to_meta():
    html = page(FRENCH * 3, head='<meta charset="windows-1252">')
    decoded = decode_html(html.encode("cp1252"), "utf-8")  # é, è, à are invalid UTF-8 bytes
    assert decoded == Decoded(html, "cp1252", "meta", None)


def test_wrong_header_and_no_meta_falls_through_to_detection():
    html = page(RUSSIAN * 20)
    decoded = decode_html(html.encode("koi8-r"), "utf-8")
    assert (decoded.text, decoded.charset, decoded.charset_source) == (html, "koi8-r", "detected")


def test_latin1_declaration_is_windows_1252():
    # browsers decode "iso-8859-1" as windows-1252: 0x93/0x94 are curly quotes, not C1 controls
    body = page("un café \x93noir\x94 \x96 s\x9cur").encode("latin-1")
    for label in ("iso-8859-1", "latin1", "ISO_8859-1", "ascii", "us-ascii", "windows-1252"):
        decoded = decode_html(body, label)
        assert decoded.charset == "cp1252" and decoded.charset_source == "header"
        assert "un café “noir” – sœur" in decoded.text


def test_cp1252_undefined_bytes_do_not_fail():
    # 0x81, 0x8d, 0x8f, 0x90, 0x9d are undefined in Python's cp1252; WHATWG passes them through
    decoded = decode_html(page("a\x81b\x9dc").encode("latin-1"), "windows-1252")
    assert decoded.charset == "cp1252" and "a\x81b\x9dc" in decoded.text


def test_utf8_body_declared_latin1_is_utf8():
    html = page(FRENCH * 3)
    decoded = decode_html(html.encode("utf-8"), "iso-8859-1")
    assert decoded == Decoded(html, "utf-8", "detected", None)


def test_smart_quotes_cp1252_detected_without_declaration():
    html = page("He said \u201chello\u201d \u2013 it\u2019s a caf\u00e9 \u2026 " * 20)
    decoded = decode_html(html.encode("cp1252"))
    assert decoded.charset_source == "detected"
    assert decoded.text == html


def test_shift_jis_detected():
    html = page(JAPANESE * 15)
    decoded = decode_html(html.encode("shift_jis"))
    assert (decoded.text, decoded.charset, decoded.charset_source) == (html, "cp932", "detected")


def test_gb18030_detected():
    html = page(CHINESE * 15)
    decoded = decode_html(html.encode("gb18030"))
    assert (decoded.text, decoded.charset, decoded.charset_source) == (html, "gb18030", "detected")


def test_koi8r_detected():
    html = page(RUSSIAN * 15)
    decoded = decode_html(html.encode("koi8-r"))
    assert (decoded.text, decoded.charset, decoded.charset_source) == (html, "koi8-r", "detected")


KOREAN = "한국어 텍스트입니다. 이것은 문자 인코딩 감지를 위한 테스트입니다. 서울은 한국의 수도입니다. "
TRADITIONAL = "這是一個用於測試字元編碼偵測的中文文字。台北是台灣的首都，有著悠久的歷史。"


@pytest.mark.parametrize(
    ("text", "encoding", "codec"),
    [
        (JAPANESE, "euc_jp", "euc_jp"),
        (JAPANESE, "iso2022_jp", "iso2022_jp"),
        (KOREAN, "euc_kr", "cp949"),
        (TRADITIONAL, "big5", "big5hkscs"),
    ],
    ids=["euc_jp", "iso2022_jp", "euc_kr", "big5"],
)
def test_more_legacy_cjk_detected(text, encoding, codec):
    html = "<html><body>" + f"<p>{text}</p>\n" * 10 + "</body></html>"
    decoded = decode_html(html.encode(encoding))
    assert (decoded.text, decoded.charset, decoded.charset_source) == (html, codec, "detected")


@pytest.mark.parametrize(("encoding", "codec"), [("gb18030", "gb18030"), ("shift_jis", "cp932"), ("euc_jp", "euc_jp")])
def test_long_cjk_text_without_markup(encoding, codec):
    # no ASCII byte for megabytes: the detector's sample ends inside a character unless it is trimmed right
    text = CHINESE if encoding == "gb18030" else JAPANESE
    html = "<p>" + text * 20_000 + "</p>"
    decoded = decode_html(html.encode(encoding))
    assert (decoded.charset, decoded.charset_source) == (codec, "detected")
    assert decoded.text == html


def test_detection_looks_past_a_long_ascii_prefix():
    html = "<html><head><style>" + "p { margin: 0; }\n" * 8000 + "</style></head>"
    html += f"<body><p>{JAPANESE * 10}</p></body></html>"
    assert len(html) > 100_000
    decoded = decode_html(html.encode("shift_jis"))
    assert (decoded.text, decoded.charset) == (html, "cp932")


def test_pure_ascii_without_declaration():
    html = page("plain ASCII text")
    assert decode_html(html.encode()) == Decoded(html, "cp1252", "detected", None)


def test_valid_utf8_without_declaration():
    html = page(FRENCH + JAPANESE)
    assert decode_html(html.encode()) == Decoded(html, "utf-8", "detected", None)


def test_a_stray_bad_byte_does_not_discard_utf8():
    good = page(FRENCH * 40).encode()
    body = good[:500] + b"\xff" + good[500:]
    for declared in ("utf-8", None):
        decoded = decode_html(body, declared)
        assert decoded.charset == "utf-8"
        assert decoded.text.count("\ufffd") == 1
        assert decoded.text.replace("\ufffd", "") == good.decode()


def test_body_cut_inside_a_character():
    body = page("naïve café").encode()
    body = body + "é".encode()[:1]  # the ingest cut the body at its cap mid-character
    decoded = decode_html(body, "utf-8")
    assert decoded.charset_source == "header" and decoded.text == body[:-1].decode()


@pytest.mark.parametrize("junk", ["x-user-defined", "none", "None", "", "utf-7", "base64", "unicode_escape", "foo-9"])
def test_junk_header_labels_are_ignored(junk):
    html = page(FRENCH * 3, head='<meta charset="utf-8">')
    assert decode_html(html.encode("utf-8"), junk) == Decoded(html, "utf-8", "meta", None)


def test_unicode_escape_never_interprets_backslashes():
    html = page(r"C:\new\table \u0041")
    decoded = decode_html(html.encode(), "unicode_escape")
    assert decoded.text == html


def test_normalize_charset():
    assert normalize_charset("Shift_JIS") == "cp932"
    assert normalize_charset("GB2312") == "gb18030"
    assert normalize_charset("gbk") == "gb18030"
    assert normalize_charset("big5") == "big5hkscs"
    assert normalize_charset("euc-kr") == "cp949"
    assert normalize_charset("ISO-8859-9") == "cp1254"
    assert normalize_charset("x-mac-roman") == "mac-roman"
    assert normalize_charset("iso-8859-15") == "iso8859-15"
    assert normalize_charset("euc_jis_2004") == "euc_jp"  # a superset the detector proposes
    assert normalize_charset("x-user-defined") is None
    assert normalize_charset("utf-32") is None
    assert normalize_charset(None) is None
    assert normalize_charset("a" * 100) is None


@pytest.mark.parametrize(
    "body",
    [
        b"\x89PNG\r\n\x1a\n" + bytes(100),
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00",
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00",
        b"\xff\xd8\xff\xe0\x00\x10JFIF",
        b"GIF89a\x01\x00\x01\x00",
        b"\x00\x00\x00\x18ftypmp42",
    ],
    ids=["png", "pdf", "zip", "gzip", "jpeg", "gif", "mp4"],
)
def test_binary_magic(body):
    assert decode_html(body, "utf-8") == Decoded(None, None, None, "binary_content")


def test_random_bytes_are_binary_for_any_declaration():
    rng = random.Random(7)
    for _ in range(20):
        body = bytes(rng.getrandbits(8) for _ in range(rng.choice([64, 4096, 70_000])))
        for declared in (None, "utf-8", "iso-8859-1", "shift_jis", "utf-16"):
            assert decode_html(body, declared).error == "binary_content"


def test_nul_bytes_in_html_are_binary():
    assert decode_html(b"<html><body>" + b"\x00\x01\x02\x03" * 100 + b"</body></html>").error == "binary_content"


def test_a_single_control_byte_is_not_binary():
    html = page(FRENCH * 5 + "\x0b")
    assert decode_html(html.encode(), "utf-8").text == html


def test_words_starting_like_magic_are_text():
    for start in ("BMW news", "BZh oh", "ID3 tags explained"):
        body = f"{start} <p>{FRENCH}</p>".encode()
        assert decode_html(body, "utf-8").error is None


def test_looks_binary():
    assert looks_binary_bytes(os.urandom(2048))
    assert not looks_binary_bytes(page(FRENCH).encode())
    assert looks_binary_text(os.urandom(2048).decode("latin-1"))
    assert not looks_binary_text(page(FRENCH))


def test_never_raises():
    rng = random.Random(11)
    samples = [bytes(rng.getrandbits(8) for _ in range(n)) for n in (1, 2, 3, 5, 17, 1000)]
    samples += [b"\xef\xbb\xbf", b"\xff\xfe", b"\xff\xfe\x00", b"<meta charset=", b"<meta charset=\xff\xfe>"]
    samples += [page("x").encode() + b"\xe3\x81", bytearray(b"<p>ok</p>"), memoryview(b"<p>ok</p>"), "a str"]
    labels = [None, "utf-8", "utf-16", "gb18030", "cp932", "\x00", "ünïcode", "utf-8" * 100]
    for body in samples:
        for declared in labels:
            decoded = decode_html(body, declared)
            assert isinstance(decoded, Decoded)
            assert (decoded.text is None) == (decoded.error is not None)
