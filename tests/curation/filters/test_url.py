"""URL filter: domain and URL blocklists and banned words over small inline list files, URL normalization, bad
input, caching and pickling, then the real LDNOOBW English list as banned words."""

from __future__ import annotations

import os
import pickle

import pytest

from curation.config import load
from curation.filters import failing
from curation.filters.url import (
    URL_FILTER_SIGNALS,
    UrlBlocklists,
    UrlFilterConfig,
    compile_substrings,
    normalize_host,
    normalize_url,
    url_blocklists_for,
    url_filter_rules,
    url_filter_signals,
    url_tokens,
)

DOMAINS = """# adult domains
example.com
*.wildcard.org
.dotted.net
0.0.0.0 hostsfile.io   # a hosts-file line with a comment

Bücher.DE.
xn--e1afmkfd.com
203.0.113.7
this is not a domain
"""
URLS = """# single pages
https://www.Pages.com/a/b/
pages.com/q?id=1
http://pages.com:8080/port
https://pages.com/caf%C3%A9
"""


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def cfg(tmp_path):
    return UrlFilterConfig(
        domain_blocklists=(write(tmp_path / "domains", DOMAINS),),
        url_blocklists=(write(tmp_path / "urls", URLS),),
        banned_words=("porn", "blue waffle", "Ass"),
        banned_word_files=(write(tmp_path / "words", "# banned\nxxx\nblowjob\n\n"),),
        soft_banned_words=("hot", "teen", "girls"),
    )


@pytest.fixture
def lists(cfg):
    return UrlBlocklists(cfg)


def match(lists, url):
    return url_filter_signals(url, lists)["url_block_match"]


# --------------------------------------------------------------------------------------------------------------------
# Normalization
# --------------------------------------------------------------------------------------------------------------------


def test_normalize_host():
    assert normalize_host("WWW.Example.COM.") == "www.example.com"
    assert normalize_host("Bücher.de") == "xn--bcher-kva.de"
    assert normalize_host("пример.com") == "xn--e1afmkfd.com"
    assert normalize_host("xn--bcher-kva.de") == "xn--bcher-kva.de"
    assert normalize_host("[2001:DB8::1]") == "2001:db8::1" and normalize_host("203.0.113.7") == "203.0.113.7"
    assert normalize_host("under_score.example.com") == "under_score.example.com"
    for bad in ("", None, "exa mple.com", "a..b", "-", "例え\x00.jp"):
        assert normalize_host(bad) is None, bad


def test_normalize_url():
    assert normalize_url("HTTPS://www.Example.COM:443/a/b/?x=1#top") == "example.com/a/b?x=1"
    assert normalize_url("http://example.com") == normalize_url("https://example.com/") == "example.com"
    assert normalize_url("http://example.com:80/") == "example.com"  # default port
    assert normalize_url("https://example.com:80/") == "example.com:80"  # not the default for https
    assert normalize_url("http://example.com:8080/x") == "example.com:8080/x"
    assert normalize_url("http://user:pw@example.com/x") == "example.com/x"
    assert normalize_url("http://example.com/%7Euser/caf%C3%A9") == "example.com/~user/café"
    assert normalize_url("http://example.com/Path") != normalize_url("http://example.com/path")  # path keeps case
    assert normalize_url("http://www.com/") == "www.com"  # "www." is only dropped in front of a domain
    assert normalize_url("http://[2001:db8::1]:8080/x") == "[2001:db8::1]:8080/x"
    assert normalize_url("example.com/a") is None  # a document URL needs a scheme (or //)
    assert normalize_url("example.com/a/", assume_scheme=True) == "example.com/a"  # list entries need not


def test_url_tokens():
    assert url_tokens("https://www.Free-Stuff.com/Blue_Waffle/x%20y?q=porn") == [
        "www",
        "free",
        "stuff",
        "com",
        "blue",
        "waffle",
        "x",
        "y",
    ]  # the query is not read
    assert url_tokens("http://xn--bcher-kva.de/Straße") == ["bücher", "de", "strasse"]  # decoded, case-folded


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "   ",
        "garbage",
        "not a url at all",
        "mailto:someone@example.com",
        "http://",
        "http:///path",
        "http://[::1",
        "http://example.com:99999/",
        "http://example.com:port/",
        "http://exa mple.com/",
        "javascript:alert(1)",
        12345,
        b"http://example.com/",
    ],
)
def test_garbage_urls_give_none(lists, url):
    assert url_filter_signals(url, lists) == {"url_blocked": None, "url_block_match": None}


# --------------------------------------------------------------------------------------------------------------------
# Domains and URLs
# --------------------------------------------------------------------------------------------------------------------


def test_domain_blocks_itself_and_subdomains_only(lists):
    assert match(lists, "http://example.com/") == "domain:example.com"
    assert match(lists, "https://a.b.EXAMPLE.com:8443/x?y#z") == "domain:example.com"
    assert match(lists, "http://www.example.com.") == "domain:example.com"
    assert match(lists, "http://notexample.com/") is None
    assert match(lists, "http://example.com.evil.net/") is None
    assert match(lists, "http://example.co/") is None
    assert match(lists, "http://sub.wildcard.org/") == "domain:wildcard.org"  # "*." is ignored in entries
    assert match(lists, "http://dotted.net/") == "domain:dotted.net"
    assert match(lists, "http://x.hostsfile.io/") == "domain:hostsfile.io"
    assert lists.lists().skipped == 1  # "this is not a domain"


def test_domain_idn_and_punycode(lists):
    # Listed in Unicode, requested in punycode and the other way round.
    assert match(lists, "http://xn--bcher-kva.de/") == "domain:xn--bcher-kva.de"
    assert match(lists, "http://shop.BÜCHER.de/") == "domain:xn--bcher-kva.de"
    assert match(lists, "http://пример.com/путь") == "domain:xn--e1afmkfd.com"
    assert match(lists, "http://xn--e1afmkfd.com/") == "domain:xn--e1afmkfd.com"
    assert match(lists, "http://bucher.de/") is None


def test_ip_hosts_match_exactly(lists):
    assert match(lists, "http://203.0.113.7/x") == "domain:203.0.113.7"
    assert match(lists, "http://203.0.113.7:8080/x") == "domain:203.0.113.7"  # ports do not matter for domains
    assert match(lists, "http://1.203.0.113.7/") is None


def test_url_list_after_normalization(lists):
    for url in ("http://pages.com/a/b", "https://www.pages.com/a/b/", "http://PAGES.com:80/a/b#frag"):
        assert match(lists, url) == "url:pages.com/a/b", url
    assert match(lists, "http://pages.com/a/b?utm=x") == "url:pages.com/a/b"  # listed without query: any query
    assert match(lists, "http://pages.com/q?id=1") == "url:pages.com/q?id=1"
    assert match(lists, "http://pages.com/q?id=2") is None  # listed with a query: only that one
    assert match(lists, "http://pages.com/a/b/c") is None and match(lists, "http://pages.com/a") is None
    assert match(lists, "http://pages.com:8080/port/") == "url:pages.com:8080/port"
    assert match(lists, "http://pages.com/port") is None  # other port
    assert match(lists, "https://pages.com/café") == "url:pages.com/café"  # percent-decoded on both sides


# --------------------------------------------------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------------------------------------------------


def test_banned_words_as_tokens(lists):
    assert match(lists, "http://free-porn.net/") == "word:porn"
    assert match(lists, "http://site.net/videos/XXX/1") == "word:xxx"
    assert match(lists, "http://site.net/ass") == "word:ass"  # inline words are case-folded
    assert match(lists, "http://site.net/blue-waffle.html") == "word:blue waffle"  # a phrase: consecutive tokens
    assert match(lists, "http://site.net/blue/green/waffle") is None
    # Short words inside other words are not matched: they are shorter than min_substring_length.
    for url in ("http://www.classic-cars.com/", "http://site.net/passport", "http://pornography-research.org/"):
        assert match(lists, url) is None, url


def test_long_banned_words_match_inside_tokens(lists, cfg):
    assert match(lists, "http://freeblowjobs.com/") == "subword:blowjob"
    assert match(lists, "http://site.net/blow-job") == "subword:blowjob"  # across a token boundary
    assert match(lists, "http://site.net/bluewaffle") == "subword:bluewaffle"
    tokens_only = UrlBlocklists(UrlFilterConfig(banned_words=cfg.banned_words, min_substring_length=None))
    assert match(tokens_only, "http://freeblowjobs.com/") is None
    short = UrlBlocklists(UrlFilterConfig(banned_words=("porn",), min_substring_length=4))
    assert match(short, "http://pornography-research.org/") == "subword:porn"


def test_soft_words_need_the_threshold(lists, cfg):
    assert match(lists, "http://hot-girls.net/") == "soft:hot,girls"
    assert match(lists, "http://hot-dogs.net/teen-recipes") == "soft:hot,teen"
    assert match(lists, "http://hot-hot-hot.net/") is None  # distinct words
    assert match(lists, "http://hot-dogs.net/") is None
    three = UrlBlocklists(UrlFilterConfig(soft_banned_words=cfg.soft_banned_words, soft_word_threshold=3))
    assert match(three, "http://hot-girls.net/") is None
    assert match(three, "http://hot-girls.net/teen") == "soft:hot,girls,teen"


def test_compile_substrings_prefers_the_longest_word():
    pattern = compile_substrings(["porn", "pornhub", "hub"])
    assert pattern.search("xpornhubx").group() == "pornhub"
    assert pattern.search("xpornx").group() == "porn"
    assert pattern.search("nothing") is None and compile_substrings([]) is None


# --------------------------------------------------------------------------------------------------------------------
# Signals, rules, config, loading
# --------------------------------------------------------------------------------------------------------------------


def test_signals_and_rules(cfg, lists):
    rules = url_filter_rules(cfg)
    blocked = url_filter_signals("http://www.example.com/page", cfg)
    clean = url_filter_signals("https://www.wikipedia.org/wiki/Lake", cfg)
    assert blocked == {"url_blocked": True, "url_block_match": "domain:example.com"}
    assert clean == {"url_blocked": False, "url_block_match": None}
    assert set(URL_FILTER_SIGNALS) == set(blocked)
    assert failing(rules, blocked) == ["url_blocklist"] and failing(rules, clean) == []
    assert failing(rules, url_filter_signals(None, cfg)) == []
    assert rules[0].sql() == "coalesce(url_blocked = true, false)"
    # Without lists nothing is blocked, but garbage is still None.
    assert url_filter_signals("http://example.com/", None) == {"url_blocked": False, "url_block_match": None}
    assert url_filter_signals("garbage", UrlFilterConfig())["url_blocked"] is None


def test_config_validation_and_yaml(tmp_path):
    with pytest.raises(ValueError):
        UrlFilterConfig(domain_blocklists="domains.txt")  # a string, not a list: would be read letter by letter
    with pytest.raises(ValueError):
        UrlFilterConfig(min_substring_length=0)
    with pytest.raises(ValueError):
        UrlFilterConfig(soft_word_threshold=0)
    domains = write(tmp_path / "d", "example.com\n")
    yaml_file = tmp_path / "url.yaml"
    yaml_file.write_text(f"domain_blocklists: [{domains}]\nbanned_words: [porn, xxx]\nmin_substring_length: 5\n")
    cfg = load(UrlFilterConfig, yaml_file)
    assert cfg == UrlFilterConfig(domain_blocklists=(domains,), banned_words=("porn", "xxx"), min_substring_length=5)
    assert hash(cfg) == hash(
        UrlFilterConfig(domain_blocklists=[domains], banned_words=["porn", "xxx"], min_substring_length=5)
    )


def test_unreadable_list_file_is_a_clear_error_at_build_time(tmp_path):
    missing = str(tmp_path / "missing-domains.txt")
    with pytest.raises(ValueError, match="missing-domains.txt"):
        UrlBlocklists(UrlFilterConfig(domain_blocklists=(missing,)))
    with pytest.raises(ValueError, match="a-folder"):
        (tmp_path / "a-folder").mkdir()
        UrlBlocklists(UrlFilterConfig(banned_word_files=(str(tmp_path / "a-folder"),)))
    binary = tmp_path / "binary-words"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ValueError, match="binary-words"):
        UrlBlocklists(UrlFilterConfig(banned_word_files=(str(binary),))).lists()  # not UTF-8: at read time


def test_lists_load_once_per_process_and_reload_when_files_change(tmp_path):
    path = tmp_path / "domains"
    path.write_text("one.com\n")
    cfg = UrlFilterConfig(domain_blocklists=(str(path),))
    first = UrlBlocklists(cfg)
    assert first.lists() is UrlBlocklists(cfg).lists()  # shared by instances over unchanged files
    assert url_blocklists_for(cfg) is url_blocklists_for(cfg)
    path.write_text("one.com\ntwo.com\n")
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse-grained file systems
    second = UrlBlocklists(cfg)
    assert second.lists() is not first.lists()
    assert match(second, "http://two.com/") == "domain:two.com"
    assert match(first, "http://two.com/") is None  # an instance keeps what it loaded


def test_pickles_config_only(lists, cfg):
    lists.lists()
    data = pickle.dumps(lists)
    assert len(data) < 2000 and b"example.com" not in data  # the compiled lists are not shipped
    clone = pickle.loads(data)
    assert clone.cfg == cfg
    assert match(clone, "http://a.example.com/") == "domain:example.com"


def test_many_domains_stay_fast(tmp_path):
    import time

    path = tmp_path / "big"
    with path.open("w") as f:
        for i in range(200_000):
            f.write(f"site{i}.example{i % 97}.com\n")
    lists = UrlBlocklists(UrlFilterConfig(domain_blocklists=(str(path),)))
    lists.lists()
    urls = [f"https://www.a.b.site{i}.example{i % 89}.com/some/path?q={i}" for i in range(20_000)]
    start = time.perf_counter()
    verdicts = [lists.match(url)[0] for url in urls]
    per_url = (time.perf_counter() - start) / len(urls)
    assert sum(verdicts) == sum(1 for i in range(20_000) if i % 97 == i % 89)
    assert per_url < 200e-6, per_url  # a few set lookups per URL (~20 µs unloaded), not a scan of the list


# --------------------------------------------------------------------------------------------------------------------
# Real data
# --------------------------------------------------------------------------------------------------------------------


def test_ldnoobw_english_list_as_banned_words(shared_data):
    lists = UrlBlocklists(UrlFilterConfig(banned_word_files=(str(shared_data / "toxicity" / "ldnoobw" / "en"),)))
    assert lists.lists().sizes["words"] > 390
    assert match(lists, "http://www.example.com/videos/anal/") == "word:anal"
    assert match(lists, "http://freeblowjobsites.com/") == "subword:blowjob"
    assert match(lists, "http://example.com/2-girls-1-cup.html") == "word:2 girls 1 cup"
    assert match(lists, "http://example.com/g-spot") == "word:g spot"
    clean = [
        "https://en.wikipedia.org/wiki/Data_analysis",
        "https://www.classicfm.com/composers/bach/",
        "https://www.essex.ac.uk/departments/mathematics",
        "https://www.butterfly-conservation.org/",
        "https://www.grapevine.com/specialist/socialism",
        "https://docs.python.org/3/library/urllib.parse.html",
        "https://commoncrawl.org/get-started",
        "https://www.scunthorpe-united.co.uk/",
        "https://www.basement-systems.com/",
        "https://www.assemblee-nationale.fr/",
    ]
    assert {url: match(lists, url) for url in clean} == dict.fromkeys(clean)
