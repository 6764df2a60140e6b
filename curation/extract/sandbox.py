"""Extraction with a hard per-document time limit: trafilatura runs in a long-lived child interpreter.

``signal.alarm`` cannot interrupt lxml's C code, and a thread cannot be killed, so the only hard limit is a process
that can be killed. :class:`Extractor` starts ``python -c 'from curation.extract._worker import main; main()'`` (a
fresh interpreter, not a fork: the parent may be a Spark Python worker with threads), ships each document over a
pipe and waits for the reply with a deadline. On timeout the child is SIGKILLed and the document is
``extraction_timeout``; the next document starts a new child. A child that dies (a segfault in C code, the OOM
killer, a MemoryError under its ``RLIMIT_AS``) makes the document ``extraction_failed`` with the cause in ``detail``,
and the next document again gets a fresh child. Starting a child (importing trafilatura, a warm-up page) happens
before a document's clock starts.

The child never outlives the parent: it exits when its stdin closes (:meth:`Extractor.close`, or the parent's exit
closing the pipe), an ``atexit`` hook closes every open extractor, and on Linux the child asks for SIGKILL when its
parent dies (``PR_SET_PDEATHSIG``), which covers a parent killed with SIGKILL while the child is busy. (Linux sends
that signal when the parent *thread* that started the child ends; if that thread ends while the Extractor lives on,
the next call finds the child gone and starts another.)

Overhead (``python -m eval.extraction --overhead 200``): on the first 200 pages of trafilatura's benchmark (2 K to
890 K characters of HTML, median 67 K), each run both ways back to back, the sandbox took 1.1-2.1 ms more per
document than :func:`~curation.extract.html_text.extract_html` in process, i.e. +3.1 % to +3.5 % wall time (two runs
on a shared, loaded 2-core machine; in-process extraction averaged 36-59 ms per page), with identical outputs. The cost
is pickling the HTML and the text through two pipes and the switch between processes.
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
import weakref

from curation.extract._worker import EXIT_NO_MEMORY, HEADER, write_all
from curation.extract.html_text import ExtractConfig, Extraction, precheck, result

STARTUP_TIMEOUT_S = 120.0
"""How long a child may take to import trafilatura and extract its warm-up page (not charged to any document)."""

_OPEN: weakref.WeakSet[Extractor] = weakref.WeakSet()


class ExtractorStartError(RuntimeError):
    """The child process could not be started: an environment problem, not a document's fault."""


class Extractor:
    """Extracts documents in a child process with ``cfg.timeout_s`` per document.

    One per Python worker process: create it lazily inside a Spark task (it holds a process, so it cannot be
    pickled) and reuse it for every document. Also a context manager. Not meant to be shared between threads
    (calls are serialized by a lock if it is)."""

    def __init__(self, cfg: ExtractConfig | None = None):
        self.cfg = cfg or ExtractConfig()
        self._proc: subprocess.Popen | None = None
        self._seq = 0
        self._lock = threading.Lock()
        _OPEN.add(self)

    # -- public
    @property
    def child_pid(self) -> int | None:
        """The pid of the current child process, None when none is running."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def extract(self, html: str, url: str | None = None) -> Extraction:
        """Title and main text of ``html``, or why not (see :class:`~curation.extract.html_text.Extraction`).
        Returns within ``cfg.timeout_s`` plus the cost of moving the document through a pipe (and, when no child is
        running, of starting one). Never raises for a bad document; raises :class:`ExtractorStartError` when no
        child process can be started at all, and TypeError when ``html`` is not a str (or None)."""
        started = time.perf_counter()
        verdict = precheck(html, started)
        if verdict is not None:
            return verdict
        html = html[: self.cfg.max_html_chars]
        with self._lock:
            proc = self._ensure_child()
            self._seq += 1
            seq = self._seq
            request = pickle.dumps((seq, html, url), protocol=pickle.HIGHEST_PROTOCOL)
            started = time.perf_counter()  # the child is up: the document's clock starts now
            deadline = time.monotonic() + self.cfg.timeout_s
            try:
                _send(proc, request)
                reply = _receive(proc, deadline)
            except _Timeout:
                self._kill()
                return result("timeout", started, detail=f"killed after {self.cfg.timeout_s:g} s")
            except (OSError, EOFError, pickle.UnpicklingError) as err:
                detail = self._death(err)
                return result("failed", started, detail=detail)
            except BaseException:  # KeyboardInterrupt mid-document: the child's next reply would be stale
                self._kill()
                raise
            got_seq, extraction, restart = reply if isinstance(reply, tuple) and len(reply) == 3 else (None,) * 3
            if got_seq != seq or not isinstance(extraction, Extraction):
                # cannot happen with one request in flight; never hand out another page's text
                self._kill()
                return result("failed", started, detail=f"protocol error: reply {got_seq} to request {seq}")
            if restart:
                self._reap(timeout=5)
        # the parent's clock: includes the trip through the pipes
        return Extraction(
            extraction.title,
            extraction.text,
            extraction.status,
            extraction.reason,
            extraction.detail,
            time.perf_counter() - started,
        )

    def close(self) -> None:
        """Stop the child (it exits when its stdin closes; killed if it has not after a second)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()

    def __enter__(self) -> Extractor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing useful left to do
            pass

    def __reduce__(self):
        raise TypeError("an Extractor holds a child process and cannot be pickled: create it inside the task")

    # -- the child
    def _ensure_child(self) -> subprocess.Popen:
        if self._proc is not None and self._proc.poll() is not None:
            self._reap(timeout=0)  # died while idle (killed from outside): no document to blame
        if self._proc is None:
            self._proc = _spawn(self.cfg)
        return self._proc

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.kill()
        except OSError:
            pass
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:  # a broken stdin pipe may complain about its unflushed buffer
                pass

    def _reap(self, timeout: float) -> int | None:
        """Wait briefly for a child that is exiting, kill it if it does not; its return code."""
        proc = self._proc
        if proc is None:
            return None
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        code = proc.poll()
        self._kill()
        return code

    def _death(self, err: BaseException) -> str:
        """Reap a child that broke the pipe or closed it mid-reply; a detail naming the cause."""
        code = self._reap(timeout=1.0)
        if code is None:
            return f"extraction process stopped answering ({type(err).__name__}) and was killed"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"extraction process died: {name}"
        if code == EXIT_NO_MEMORY:
            return f"extraction process ran out of memory (max_memory_mb={self.cfg.max_memory_mb})"
        return f"extraction process died: exit code {code}"


def _spawn(cfg: ExtractConfig) -> subprocess.Popen:
    import curation

    # the directory holding the curation package (or the zip a Spark job shipped it in), so the child imports the
    # same code the parent runs even when it was added to sys.path at runtime
    root = os.path.dirname(os.path.dirname(os.path.abspath(curation.__file__)))
    code = f"import sys; sys.path.insert(0, {root!r}); from curation.extract._worker import main; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        close_fds=True,
    )
    try:
        _send(proc, pickle.dumps(cfg, protocol=pickle.HIGHEST_PROTOCOL))
        ready = _receive(proc, time.monotonic() + STARTUP_TIMEOUT_S)
        if not (isinstance(ready, tuple) and ready[0] == "ready"):
            raise EOFError(f"unexpected first message {ready!r}")
    except (OSError, EOFError, _Timeout, pickle.UnpicklingError) as err:
        proc.kill()
        proc.wait()
        raise ExtractorStartError(
            f"the extraction child process did not start ({type(err).__name__}: {err}; exit code {proc.returncode}); "
            "its stderr says why"
        ) from err
    return proc


class _Timeout(Exception):
    pass


def _send(proc: subprocess.Popen, payload: bytes) -> None:
    """One frame to the child (blocking: the child reads whole requests before working on them)."""
    fd = proc.stdin.fileno()
    write_all(fd, HEADER.pack(len(payload)))
    write_all(fd, payload)


def _receive(proc: subprocess.Popen, deadline: float):
    """One frame from the child, or _Timeout at ``deadline`` (``time.monotonic()``), or EOFError if it died."""
    fd = proc.stdout.fileno()
    header = _read(fd, HEADER.size, deadline)
    return pickle.loads(_read(fd, HEADER.unpack(header)[0], deadline))


def _read(fd: int, n: int, deadline: float) -> bytes:
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    chunks, left = [], n
    while left:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Timeout
        if not poller.poll(max(1, int(remaining * 1000 + 0.999))):
            continue
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the extraction process closed its output")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


@atexit.register
def _close_all() -> None:
    for extractor in list(_OPEN):
        extractor.close()
