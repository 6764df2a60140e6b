"""The child process of :class:`curation.extract.sandbox.Extractor`: extracts documents it reads from stdin.

Protocol (both directions): frames of an 8-byte big-endian length followed by a pickle. The parent sends an
:class:`~curation.extract.html_text.ExtractConfig`; the child imports trafilatura, extracts a warm-up page, applies its
memory limit and answers ``("ready", pid)``. Then each request ``(seq, html, url)`` gets ``(seq, Extraction,
restart)``; ``restart`` says the child is exiting after this reply (a MemoryError can leave the interpreter in a
bad state). A MemoryError while reading a request or writing a reply ends the child with :data:`EXIT_NO_MEMORY`.
The child exits when its stdin closes, and (Linux) when the parent dies.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import sys

HEADER = struct.Struct(">Q")
"""Frame header: the pickle's length."""
EXIT_NO_MEMORY = 3
"""Exit code of a child that ran out of memory (its ``RLIMIT_AS``) outside an extraction."""

WARMUP_HTML = (
    "<html><head><title>warm-up</title></head><body><article><h1>Warm-up</h1>"
    + "<p>This paragraph only loads the extraction code paths once before the first real document. </p>" * 6
    + "</article></body></html>"
)


def read_frame(fd: int):
    """The next object on ``fd``, or None at end of file."""
    header = _read_exact(fd, HEADER.size)
    if header is None:
        return None
    payload = _read_exact(fd, HEADER.unpack(header)[0])
    return None if payload is None else pickle.loads(payload)


def write_frame(fd: int, obj) -> None:
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    write_all(fd, HEADER.pack(len(payload)))
    write_all(fd, payload)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exact(fd: int, n: int) -> bytearray | None:
    buf = bytearray(n)  # read in place: a document is held once, not once per chunk plus once joined
    view, got = memoryview(buf), 0
    while got < n:
        k = os.readv(fd, [view[got:]])
        if not k:
            return None
        got += k
    return buf


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (a killed parent runs no atexit)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _oom_first() -> None:
    """Make this process the OOM killer's first choice, before the parent (a Spark worker)."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000\n")
    except OSError:
        pass


def _limit_memory(max_memory_mb: int | None) -> None:
    if max_memory_mb is None:
        return
    import resource

    limit = max_memory_mb << 20
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def main() -> None:
    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the request above took effect
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which then closes us
    _oom_first()
    # The protocol gets its own copy of stdout; fd 1 becomes stderr, so a stray print in a library cannot
    # corrupt a frame.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    in_fd = 0

    cfg = read_frame(in_fd)
    if cfg is None:
        return
    import logging

    from curation.extract.html_text import extract_html

    logging.disable(logging.ERROR)  # trafilatura logs every discarded page; nobody reads this process's logs
    extract_html(WARMUP_HTML, None, cfg)
    _limit_memory(cfg.max_memory_mb)
    write_frame(out_fd, ("ready", os.getpid()))
    try:
        _serve(in_fd, out_fd, cfg, extract_html)
    except MemoryError:
        # out of memory outside the extraction (reading the document, writing the reply): the parent blames the
        # document it sent, by this exit code
        os._exit(EXIT_NO_MEMORY)


def _serve(in_fd: int, out_fd: int, cfg, extract_html) -> None:
    while True:
        request = read_frame(in_fd)
        if request is None:
            return
        seq, html, url = request
        del request
        extraction = extract_html(html, url, cfg)
        del html
        restart = extraction.status == "failed" and (extraction.detail or "").startswith("MemoryError")
        write_frame(out_fd, (seq, extraction, restart))
        if restart:
            return


if __name__ == "__main__":
    main()
