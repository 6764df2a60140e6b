"""URL filter: domain and URL blocklists and banned words in the URL, as in datatrove's ``URLFilter``, but with every
list supplied by the config (nothing is downloaded) and one verdict column. Columns are prefixed ``url_``.

Checks, in this order; the first that matches is reported in ``url_block_match``:

* ``domain:<entry>``: the host is a listed domain or a subdomain of one. ``example.com`` blocks ``example.com`` and
  ``a.b.example.com``, never ``notexample.com``. IP-address hosts match only an identical entry. The lists are one
  set of domain names; a host is checked by looking up each of its suffixes at a dot (a handful of set lookups
  whatever the size of the list). datatrove compares only tldextract's registered-domain *label* (``example``
  without its suffix), which blocks ``example.org`` along with ``example.com``; here the whole name counts.
* ``url:<entry>``: the URL, normalized (see :func:`normalize_url`), is a listed URL, or is one once its query is
  dropped (a listed URL without a query blocks all its query variants; one with a query only that query).
* ``word:<word>``: a banned word is one of the URL's tokens (:func:`url_tokens`: the host and the percent-decoded
  path, case-folded, split on everything that is not a letter or digit; the query is not read, it is mostly
  parameters and ids). A banned phrase (``blue waffle``) matches its tokens in sequence (``blue-waffle``).
* ``subword:<word>``: a banned word of at least ``min_substring_length`` letters and digits occurs anywhere in the
  URL's tokens glued together (``freepornpics.com`` → ``freepornpicscom``), like datatrove's "banned subwords". Short
  words are matched as tokens only: as substrings they hit ordinary words (``anal`` in ``analysis``, ``cialis`` in
  ``specialist``, ``semen`` in ``basement``). The default minimum of 7 was measured on the 403-word LDNOOBW English
  list against the 15,600-word vocabulary of WikiText-2 and the lingua English sentences: with 7 two vocabulary
  words are hit (``homosexuality``, ``cummings``), with 6 fourteen, with 5 nineteen, with 4 sixty-nine.
* ``soft:<w1>,<w2>``: at least ``soft_word_threshold`` distinct soft-banned words are URL tokens (datatrove's soft
  words: each alone is innocent, ``hot``, ``teen``, together they are not). Off unless soft words are configured.

List files are UTF-8, one entry per line; blank lines and lines starting with ``#`` are skipped; in domain lists
text after a ``#`` is a comment and hosts-file lines (``0.0.0.0 example.com``) give their host. Entries that are not
host names / URLs are skipped (counted in ``UrlBlocklists.lists().skipped``). Domains and URLs are normalized like the
URLs they are compared with: host lower-cased, trailing dot dropped, internationalized names in punycode (so
``bücher.de`` and ``xn--bcher-kva.de`` are the same entry), a leading ``*.`` or ``.`` in domain entries ignored.

The lists are read and compiled once per process, lazily, and shared by every :class:`UrlBlocklists` naming the same
files with the same modification times and sizes (a list edited in place is re-read by the next instance). Memory is
that of Python sets: roughly 100 bytes per domain, so a 5-million-domain list costs about half a gigabyte per worker.
Banned words are compiled into one trie-shaped regular expression (each attempt costs the length of a word, not the
size of the list).
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from curation.filters.rules import Rule

# --------------------------------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UrlFilterConfig:
    """Where the URL blocklists are and how banned words match. All fields are signal-time: ``url_blocked`` is the
    verdict of the lists, so changing a list means recomputing the signals. No lists (the default): no URL is
    blocked."""

    domain_blocklists: tuple[str, ...] = ()
    """Files of blocked domains, one per line; a domain blocks its subdomains."""
    url_blocklists: tuple[str, ...] = ()
    """Files of blocked URLs, one per line, compared after :func:`normalize_url` (entries may omit the scheme)."""
    banned_words: tuple[str, ...] = ()
    """Banned words (or phrases) given inline."""
    banned_word_files: tuple[str, ...] = ()
    """Files of banned words, one per line (e.g. an LDNOOBW list)."""
    min_substring_length: int | None = 7
    """Banned words with at least this many letters and digits also match inside longer tokens and across token
    boundaries (see the module docstring for how 7 was chosen). None: tokens only."""
    soft_banned_words: tuple[str, ...] = ()
    """Soft-banned words given inline: a URL is blocked when it has ``soft_word_threshold`` distinct ones as tokens."""
    soft_banned_word_files: tuple[str, ...] = ()
    """Files of soft-banned words, one per line."""
    soft_word_threshold: int = 2
    """How many distinct soft-banned words block a URL (datatrove's default, 2)."""

    def __post_init__(self) -> None:
        for name in (
            "domain_blocklists",
            "url_blocklists",
            "banned_words",
            "banned_word_files",
            "soft_banned_words",
            "soft_banned_word_files",
        ):
            value = getattr(self, name)
            if isinstance(value, str | Path) or not isinstance(value, Iterable):
                raise ValueError(f"{name} must be a list of strings, not {value!r}")
            items = tuple(str(item) for item in value)
            object.__setattr__(self, name, items)
        if self.min_substring_length is not None and (
            isinstance(self.min_substring_length, bool)
            or not isinstance(self.min_substring_length, int)
            or self.min_substring_length < 1
        ):
            raise ValueError(
                f"min_substring_length must be a positive integer or None, got {self.min_substring_length!r}"
            )
        if (
            isinstance(self.soft_word_threshold, bool)
            or not isinstance(self.soft_word_threshold, int)
            or self.soft_word_threshold < 1
        ):
            raise ValueError(f"soft_word_threshold must be a positive integer, got {self.soft_word_threshold!r}")

    @property
    def files(self) -> tuple[str, ...]:
        """Every list file the config names."""
        return self.domain_blocklists + self.url_blocklists + self.banned_word_files + self.soft_banned_word_files


URL_FILTER_SIGNALS: dict[str, type] = {"url_blocked": bool, "url_block_match": str}
"""Column → Python type of :func:`url_filter_signals` (both may also be None)."""

# --------------------------------------------------------------------------------------------------------------------
# URL normalization
# --------------------------------------------------------------------------------------------------------------------

_HOST = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*\Z")
"""An ASCII host name (punycode for IDNs); ``_`` is allowed because real hosts use it."""
_TOKEN = re.compile(r"[^\W_]+")
"""A URL token: a run of Unicode letters and digits."""
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}


def normalize_host(host: str | None) -> str | None:
    """``host`` as compared with the lists: lower case, no trailing dot, internationalized labels in punycode
    (``Bücher.DE.`` → ``xn--bcher-kva.de``), IPv6 without brackets. None when it is not a host name or an IP."""
    if not host:
        return None
    host = host.strip().lower().rstrip(".")
    if _HOST.match(host) and not host[-1].isdigit():  # the common case: an ASCII name (an IP ends in a digit)
        return host
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:  # a label IDNA 2003 refuses (too long, forbidden characters): punycode it as it is
            labels = host.replace("\u3002", ".").split(".")
            try:
                host = ".".join(lab if lab.isascii() else "xn--" + lab.encode("punycode").decode() for lab in labels)
            except UnicodeError:
                return None
    return host if _HOST.match(host) else None


def _unicode_host(host: str) -> str:
    """``host`` with its punycode labels decoded, for tokenization (``xn--bcher-kva.de`` → ``bücher.de``)."""
    if "xn--" not in host:
        return host
    labels = []
    for label in host.split("."):
        if label.startswith("xn--"):
            try:
                label = label.encode("ascii").decode("idna")
            except UnicodeError:
                pass
        labels.append(label)
    return ".".join(labels)


@dataclass(frozen=True)
class ParsedUrl:
    """The parts of a URL the filter compares."""

    host: str
    """Normalized host (:func:`normalize_host`)."""
    key: str
    """The normalized URL (:func:`normalize_url`)."""
    key_without_query: str
    """``key`` without its query."""
    path: str
    """Percent-decoded path."""


def parse_url(url: str | None, assume_scheme: bool = False) -> ParsedUrl | None:
    """``url`` split and normalized, or None when it is not an absolute URL with a valid host and port.

    ``assume_scheme``: read ``example.com/a`` as ``http://example.com/a`` (list entries); otherwise a URL must have
    ``scheme://`` or start with ``//``, so that ``mailto:`` and other host-less URLs are not misread.
    """
    if not isinstance(url, str):
        return None
    url = url.strip()
    if assume_scheme and "://" not in url and not url.startswith("//"):
        url = "http://" + url
    try:
        parts = urlsplit(url)
        port = parts.port
        raw_host = parts.hostname
    except ValueError:  # "Invalid IPv6 URL", a port out of range or not a number
        return None
    host = normalize_host(raw_host)
    if host is None:
        return None
    scheme = parts.scheme.lower()
    key_host = host[4:] if host.startswith("www.") and host.count(".") >= 2 else host
    if ":" in key_host:  # IPv6
        key_host = f"[{key_host}]"
    if port is not None and port != _DEFAULT_PORTS.get(scheme or "http"):
        key_host = f"{key_host}:{port}"
    path = unquote(parts.path, errors="replace").rstrip("/")
    base = key_host + path
    return ParsedUrl(host, f"{base}?{parts.query}" if parts.query else base, base, path)


def normalize_url(url: str | None, assume_scheme: bool = False) -> str | None:
    """The form in which URLs are compared with the URL lists, or None for a URL without a valid host.

    Normalized: the scheme is dropped (``http`` and ``https`` are the same page), user info dropped, the host per
    :func:`normalize_host` with one leading ``www.`` dropped, the port dropped when it is the scheme's default (80 for
    http, 443 for https), the path percent-decoded (``%7E`` and ``~`` are the same) with trailing slashes removed (so
    ``/a/`` is ``/a`` and ``/`` is empty), the query kept as it is, the fragment dropped. The path keeps its case.
    ``HTTPS://www.Example.COM:443/a/b/?x=1#top`` → ``example.com/a/b?x=1``.
    """
    parsed = parse_url(url, assume_scheme)
    return None if parsed is None else parsed.key


def url_tokens(url: str | None) -> list[str] | None:
    """The tokens banned words are compared with: the host (internationalized names decoded) and the percent-decoded
    path, case-folded, split on everything that is not a letter or digit. None for a URL without a valid host."""
    parsed = parse_url(url)
    return None if parsed is None else _tokens(parsed)


def _tokens(parsed: ParsedUrl) -> list[str]:
    return _TOKEN.findall(f"{_unicode_host(parsed.host)}/{parsed.path}".casefold())


# --------------------------------------------------------------------------------------------------------------------
# Lists
# --------------------------------------------------------------------------------------------------------------------


def _read_lines(path: str) -> list[str]:
    """The non-blank, non-comment lines of list file ``path``, stripped; ValueError naming the file if unreadable."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"URL filter list file {path!r} cannot be read: {exc}") from exc
    return [s for s in (line.strip() for line in text.splitlines()) if s and not s.startswith("#")]


def _domain_entry(line: str) -> str | None:
    if _HOST.match(line) and not line[-1].isdigit():  # the common case, a plain lower-case name: no parsing
        return line
    fields = line.split("#", 1)[0].split()
    if not fields:
        return None
    entry = fields[0]
    if len(fields) >= 2:  # hosts-file format: "0.0.0.0 example.com"
        try:
            ipaddress.ip_address(fields[0])
            entry = fields[1]
        except ValueError:
            return None
    if "://" in entry or "/" in entry:
        parsed = parse_url(entry, assume_scheme=True)
        return None if parsed is None else parsed.host
    return normalize_host(entry.removeprefix("*.").lstrip("."))


def _phrase(word: str) -> tuple[str, ...]:
    """A banned word or phrase as URL tokens."""
    return tuple(_TOKEN.findall(word.casefold()))


@dataclass(frozen=True)
class CompiledLists:
    """The lists of a :class:`UrlFilterConfig`, read and compiled."""

    domains: frozenset[str]
    urls: frozenset[str]
    words: Phrases
    """Banned words and phrases (as token tuples)."""
    subwords: re.Pattern[str] | None
    """Matches any banned word of at least ``min_substring_length`` characters (in glued tokens)."""
    soft: Phrases
    """Soft-banned words and phrases."""
    skipped: int = 0
    """Lines of the domain and URL lists that were not a host name or URL."""
    sizes: dict[str, int] = field(default_factory=dict)
    """Entries per kind, for reports."""


class Phrases:
    """A set of words and phrases, looked up in a token list: single words in a set, phrases by their first token."""

    def __init__(self, phrases: Iterable[tuple[str, ...]]) -> None:
        self.single: frozenset[str] = frozenset(p[0] for p in phrases if len(p) == 1)
        multi: dict[str, set[tuple[str, ...]]] = {}
        for phrase in phrases:
            if len(phrase) > 1:
                multi.setdefault(phrase[0], set()).add(phrase)
        # Longest first, so that at one position the longest phrase wins.
        self.multi = {first: sorted(ps, key=lambda p: (-len(p), p)) for first, ps in multi.items()}
        self._size = len(self.single) + sum(len(ps) for ps in self.multi.values())

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return f"Phrases({len(self)})"

    def find(self, tokens: list[str], first_only: bool = False) -> list[str]:
        """The distinct listed words/phrases occurring in ``tokens`` (phrases as consecutive tokens), in token order;
        only the first with ``first_only``."""
        hits: dict[str, None] = {}
        if not self.multi and self.single.isdisjoint(tokens):
            return []
        for i, token in enumerate(tokens):
            if token in self.single:
                hits[token] = None
            for phrase in self.multi.get(token, ()):
                if tuple(tokens[i : i + len(phrase)]) == phrase:
                    hits[" ".join(phrase)] = None
                    break
            if hits and first_only:
                break
        return list(hits)


def compile_substrings(words: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern matching any of ``words`` as a substring, built as a trie (``porn(?:hub)?|pussy``): each attempt
    costs the length of a word rather than the size of the list (for the 250 LDNOOBW English words of 7 or more
    characters, about 8x faster than a flat alternation). At a given start the longest word wins. None for no words."""
    root: dict = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}  # a word ends here
    if not root:
        return None

    def emit(node: dict) -> str:
        alts = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if "" in node:
            return f"(?:{'|'.join(alts)})?" if alts else ""
        return alts[0] if len(alts) == 1 else f"(?:{'|'.join(alts)})"

    return re.compile(emit(root))


def compile_lists(cfg: UrlFilterConfig) -> CompiledLists:
    """Read and compile every list ``cfg`` names (ValueError naming a file that cannot be read)."""
    skipped = 0
    domains: set[str] = set()
    for path in cfg.domain_blocklists:
        for line in _read_lines(path):
            entry = _domain_entry(line)
            if entry is None:
                skipped += 1
            else:
                domains.add(entry)
    urls: set[str] = set()
    for path in cfg.url_blocklists:
        for line in _read_lines(path):
            key = normalize_url(line, assume_scheme=True)
            if key is None:
                skipped += 1
            else:
                urls.add(key)
    words = [*cfg.banned_words, *(w for path in cfg.banned_word_files for w in _read_lines(path))]
    soft = [*cfg.soft_banned_words, *(w for path in cfg.soft_banned_word_files for w in _read_lines(path))]
    phrases = {_phrase(w) for w in words} - {()}
    glued = {"".join(p) for p in phrases}
    min_len = cfg.min_substring_length
    subwords = compile_substrings(w for w in glued if min_len is not None and len(w) >= min_len)
    soft_phrases = {_phrase(w) for w in soft} - {()}
    return CompiledLists(
        domains=frozenset(domains),
        urls=frozenset(urls),
        words=Phrases(phrases),
        subwords=subwords,
        soft=Phrases(soft_phrases),
        skipped=skipped,
        sizes={"domains": len(domains), "urls": len(urls), "words": len(phrases), "soft_words": len(soft_phrases)},
    )


def _check_readable(paths: Iterable[str]) -> None:
    for path in paths:
        if not Path(path).is_file():
            raise ValueError(f"URL filter list file {path!r} does not exist or is not a file")
        if not os.access(path, os.R_OK):
            raise ValueError(f"URL filter list file {path!r} is not readable")


_LOADED: OrderedDict[tuple, CompiledLists] = OrderedDict()
_LOADED_MAX = 4  # big domain lists are hundreds of MB: keep only a few versions per process
_LOADED_LOCK = threading.Lock()


def _cache_key(cfg: UrlFilterConfig) -> tuple:
    stamps = []
    for path in cfg.files:
        try:
            st = os.stat(path)
        except OSError as exc:
            raise ValueError(f"URL filter list file {path!r} cannot be read: {exc}") from exc
        stamps.append((os.path.abspath(path), st.st_mtime_ns, st.st_size))
    return (cfg, tuple(stamps))


class UrlBlocklists:
    """The lists of a :class:`UrlFilterConfig`, checked for readability when built and compiled on first use.

    Pickling keeps only the config, so an instance can be shipped to Spark workers; there each process compiles the
    lists once (shared by every instance naming the same unchanged files).
    """

    def __init__(self, cfg: UrlFilterConfig | None = None) -> None:
        """ValueError naming the first list file that does not exist or is not readable."""
        self.cfg = cfg or UrlFilterConfig()
        _check_readable(self.cfg.files)
        self._lists: CompiledLists | None = None

    def lists(self) -> CompiledLists:
        """The compiled lists (read on first use, then kept by this instance)."""
        if self._lists is None:
            key = _cache_key(self.cfg)
            with _LOADED_LOCK:
                lists = _LOADED.get(key)
                if lists is None:
                    lists = compile_lists(self.cfg)
                    _LOADED[key] = lists
                    while len(_LOADED) > _LOADED_MAX:
                        _LOADED.popitem(last=False)
                _LOADED.move_to_end(key)
            self._lists = lists
        return self._lists

    def match(self, url: str | None) -> tuple[bool | None, str | None]:
        """``(blocked, what matched)`` for ``url``; ``(None, None)`` when it is not a URL with a valid host."""
        parsed = parse_url(url)
        if parsed is None:
            return None, None
        lists = self.lists()
        if lists.domains:
            hit = _domain_hit(parsed.host, lists.domains)
            if hit is not None:
                return True, f"domain:{hit}"
        if lists.urls:
            for key in (parsed.key, parsed.key_without_query):
                if key in lists.urls:
                    return True, f"url:{key}"
        if not (lists.words or lists.subwords or lists.soft):
            return False, None
        tokens = _tokens(parsed)
        hit = lists.words.find(tokens, first_only=True)
        if hit:
            return True, f"word:{hit[0]}"
        if lists.subwords is not None:
            found = lists.subwords.search("".join(tokens))
            if found is not None:
                return True, f"subword:{found.group()}"
        if lists.soft:
            soft = lists.soft.find(tokens)
            if len(soft) >= self.cfg.soft_word_threshold:
                return True, "soft:" + ",".join(soft)
        return False, None

    def __getstate__(self) -> dict:
        return {"cfg": self.cfg}

    def __setstate__(self, state: dict) -> None:
        self.cfg = state["cfg"]
        self._lists = None

    def __repr__(self) -> str:
        return f"UrlBlocklists({self.cfg!r})"


def _domain_hit(host: str, domains: frozenset[str]) -> str | None:
    """The most specific listed domain that is ``host`` or one of its parents."""
    if host in domains:
        return host
    if ":" in host or host.replace(".", "").isdigit():  # an IP address: exact entries only
        return None
    dot = host.find(".")
    while dot != -1:
        suffix = host[dot + 1 :]
        if suffix in domains:
            return suffix
        dot = host.find(".", dot + 1)
    return None


@functools.lru_cache(maxsize=8)
def url_blocklists_for(cfg: UrlFilterConfig) -> UrlBlocklists:
    """One :class:`UrlBlocklists` per config per process. Like any instance it keeps the lists it first loaded: a
    list file edited later is read again only by a new :class:`UrlBlocklists`."""
    return UrlBlocklists(cfg)


# --------------------------------------------------------------------------------------------------------------------
# Signals and rules
# --------------------------------------------------------------------------------------------------------------------


def url_filter_signals(
    url: str | None, cfg_or_lists: UrlFilterConfig | UrlBlocklists | None = None
) -> dict[str, bool | str | None]:
    """URL blocklist signals of one document.

    * ``url_blocked`` (bool): the URL matches a list; None when ``url`` is None or not an absolute URL with a valid
      host (so no rule fails on it).
    * ``url_block_match`` (str): what matched, ``domain:<listed domain>``, ``url:<normalized URL>``, ``word:<word>``,
      ``subword:<word>`` or ``soft:<word>,<word>`` (see the module docstring); None when not blocked.

    ``cfg_or_lists``: a config (its lists are compiled once per process) or a :class:`UrlBlocklists`.
    """
    lists = (
        cfg_or_lists
        if isinstance(cfg_or_lists, UrlBlocklists)
        else url_blocklists_for(cfg_or_lists or UrlFilterConfig())
    )
    blocked, match = lists.match(url)
    return {"url_blocked": blocked, "url_block_match": match}


def url_filter_rules(cfg: UrlFilterConfig | None = None) -> list[Rule]:
    """``url_blocklist``: ``url_blocked`` is true."""
    return [Rule("url_blocked", "==", True, "url_blocklist")]
