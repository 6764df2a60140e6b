"""Extractor with real trafilatura and real child processes: time limit, crashes, memory limit, clean shutdown."""

from __future__ import annotations

import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from textsamples import MILL_PARAGRAPHS

from curation.extract.html_text import ExtractConfig, extract_html
from curation.extract.sandbox import Extractor

PARAGRAPHS = MILL_PARAGRAPHS
ARTICLE = (
    "<html><head><title>The Old Mill</title></head><body><nav><a href='/'>Home</a> <a href='/about'>About</a></nav>"
    "<article><h1>The Old Mill</h1>" + "".join(f"<p>{p}</p>" for p in PARAGRAPHS) + "</article></body></html>"
)
# Many tiny elements: trafilatura spends ~0.2 ms per element in Python (seconds for this page), well past any
# time limit used here, whatever the machine.
SLOW = "<html><body>" + "<div><span>a</span><b>b</b></div>" * 40_000 + "</body></html>"

MARGIN_S = 1.5
"""Allowed above the time limit: pickling a few MB through a pipe and killing a process, on a busy machine."""


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return False


@pytest.fixture(scope="module")
def extractor():
    with Extractor(ExtractConfig(timeout_s=1.0)) as ex:
        yield ex


def warm(ex: Extractor) -> int:
    """Make sure a child is up (start-up is not what these tests time); its pid."""
    assert ex.extract(ARTICLE).status == "ok"
    return ex.child_pid


def test_same_result_as_in_process(extractor):
    cfg = extractor.cfg
    for html in (ARTICLE, ARTICLE.replace("<article>", "<article><p>Intro.</p>")):
        sandboxed, direct = extractor.extract(html, "https://example.org/mill"), extract_html(html, None, cfg)
        assert sandboxed.status == "ok"
        assert (sandboxed.title, sandboxed.text, sandboxed.reason) == (direct.title, direct.text, direct.reason)
    assert all(p in sandboxed.text for p in PARAGRAPHS)
    assert 0 < sandboxed.seconds < cfg.timeout_s


def pathological() -> dict[str, str]:
    rng = random.Random(3)
    return {
        "deep_nesting": "<html><body>" + "<div>" * 100_000 + "deep" + "</div>" * 100_000 + "</body></html>",
        "5mb_markup": "<html><body>" + "<div class='c'><span>x</span><i>y</i></div>" * 120_000 + "</body></html>",
        "binary_as_text": bytes(rng.getrandbits(8) for _ in range(200_000)).decode("latin-1"),
        "huge_text_node": "<html><body><p>" + "word " * 1_000_000 + "</p></body></html>",
    }


@pytest.mark.parametrize("name", list(pathological()))
def test_pathological_html_gives_a_row_within_the_limit(extractor, name):
    html = pathological()[name]
    warm(extractor)
    started = time.monotonic()
    r = extractor.extract(html)
    elapsed = time.monotonic() - started
    assert r.status in ("ok", "empty", "timeout", "failed")
    assert (r.reason is None) == (r.status == "ok")
    assert elapsed < extractor.cfg.timeout_s + MARGIN_S, (r, elapsed)
    if name == "binary_as_text":
        assert (r.status, r.detail) == ("failed", "binary")
    assert extractor.extract(ARTICLE).status == "ok"  # and the extractor still works


def test_timeout_kills_the_child_and_the_next_document_gets_a_fresh_one():
    with Extractor(ExtractConfig(timeout_s=0.5)) as ex:
        first = warm(ex)
        started = time.monotonic()
        r = ex.extract(SLOW)
        elapsed = time.monotonic() - started
        assert (r.status, r.reason, r.text) == ("timeout", "extraction_timeout", None)
        assert r.detail == "killed after 0.5 s"
        assert 0.5 <= r.seconds and elapsed < 0.5 + MARGIN_S
        assert ex.child_pid is None and wait_gone(first)
        after = ex.extract(ARTICLE)
        assert after.status == "ok" and all(p in after.text for p in PARAGRAPHS)
        assert ex.child_pid not in (None, first)


def test_start_up_is_not_charged_to_the_first_document():
    # importing trafilatura takes longer than this limit; the first document must still be extracted
    with Extractor(ExtractConfig(timeout_s=0.3)) as ex:
        started = time.monotonic()
        r = ex.extract(ARTICLE)
        assert r.status == "ok"
        assert r.seconds < time.monotonic() - started


def test_child_killed_while_idle_is_replaced(extractor):
    pid = warm(extractor)
    os.kill(pid, signal.SIGKILL)
    assert wait_gone(pid)
    r = extractor.extract(ARTICLE)
    assert r.status == "ok"
    assert extractor.child_pid not in (None, pid)


@pytest.mark.parametrize(
    ("sig", "name"), [(signal.SIGKILL, "SIGKILL"), (signal.SIGSEGV, "SIGSEGV")], ids=["SIGKILL", "SIGSEGV"]
)
def test_child_dying_mid_document_fails_that_document_only(sig, name):
    with Extractor(ExtractConfig(timeout_s=20)) as ex:
        pid = warm(ex)
        killer = threading.Timer(0.3, os.kill, (pid, sig))
        killer.start()
        r = ex.extract(SLOW)
        killer.join()
        assert (r.status, r.reason, r.text) == ("failed", "extraction_failed", None)
        assert r.detail == f"extraction process died: {name}"
        assert r.seconds < 10
        assert ex.extract(ARTICLE).status == "ok"
        assert ex.child_pid != pid


def test_memory_limit_fails_the_document_and_the_next_one_works():
    cfg = ExtractConfig(max_memory_mb=256, max_html_chars=200_000_000, timeout_s=20)
    with Extractor(cfg) as ex:
        pid = warm(ex)
        r = ex.extract("<html><body><p>" + "x" * 150_000_000 + "</p></body></html>")
        assert (r.status, r.reason) == ("failed", "extraction_failed")
        assert r.detail == "extraction process ran out of memory (max_memory_mb=256)"
        assert ex.extract(ARTICLE).status == "ok"
        assert ex.child_pid != pid


def test_cheap_checks_need_no_child():
    with Extractor() as ex:
        assert ex.extract("").status == "empty"
        assert ex.extract("  \n").reason == "extraction_empty"
        r = ex.extract("\x00\x01\x02\x03" * 1000)
        assert (r.status, r.detail) == ("failed", "binary")
        assert ex.child_pid is None


def test_close_leaves_no_child():
    ex = Extractor()
    pid = warm(ex)
    ex.close()
    assert ex.child_pid is None
    assert wait_gone(pid, 2.0)
    ex.close()  # twice is fine
    with Extractor() as ex:
        pid = warm(ex)
    assert wait_gone(pid, 2.0)


def test_cannot_be_pickled(extractor):
    with pytest.raises(TypeError, match="inside the task"):
        pickle.dumps(extractor)


@pytest.mark.parametrize("how", ["exit", "sigkill"])
def test_child_does_not_outlive_its_parent(tmp_path, how):
    """A parent that ends without close() (os._exit skips atexit; SIGKILL skips everything) takes the child along."""
    script = textwrap.dedent(
        f"""
        import os, sys, time
        from curation.extract.sandbox import Extractor
        ex = Extractor()
        assert ex.extract({ARTICLE!r}).status == "ok"
        print(ex.child_pid, flush=True)
        if {how!r} == "exit":
            os._exit(0)
        time.sleep(60)
        """
    )
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=repo)
    try:
        child = int(parent.stdout.readline())
        assert alive(child)
        if how == "sigkill":
            parent.kill()
        parent.wait(timeout=30)
        assert wait_gone(child, 5.0)
    finally:
        parent.kill()
        parent.wait()
