"""One writer at a time on a lakehouse in object storage: a lease object ``<root>/_lakeforge/writer.lease``.

Why: Delta 4.4 writes its log on S3 through ``S3SingleDriverLogStore``, which keeps commits atomic only among the
writers of ONE driver (it serialises them in memory); it does not use S3's conditional writes, and the multi-cluster
option is the DynamoDB log store (``S3DynamoDBLogStore``). Two jobs writing the same table from two drivers can both
write ``_delta_log/N.json`` and one commit is lost. So a writing job takes the lease first, created with S3's
conditional put (``If-None-Match: *``, :meth:`Store.create_exclusive`), and deletes it when it ends; a second writer
is refused (:class:`LeaseHeld`). Readers never take it. Local lakehouses need none: a local rename is atomic and Delta
handles concurrent writers there.

A lease left by a killed job stays until someone clears it (:func:`clear`), after checking that its holder is gone.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime

from curation.storage import Store, StoreError, join

LEASE = "_lakeforge/writer.lease"


class LeaseHeld(RuntimeError):
    """Another job holds the writer lease. ``holder`` is its JSON (run id, job, host, pid, started)."""

    def __init__(self, uri: str, holder: dict):
        self.uri, self.holder = uri, holder
        who = ", ".join(f"{k} {holder[k]}" for k in ("job", "run_id", "host", "pid", "started") if holder.get(k))
        super().__init__(f"{uri} is held by another writer ({who or 'unreadable lease'})")


def lease_uri(root: str) -> str:
    return join(root, LEASE)


def holder(store: Store, root: str) -> dict | None:
    """The lease's content, None when nobody holds it; ``{}`` when it is there but unreadable."""
    uri = lease_uri(root)
    try:
        data = store.read_bytes(uri)
    except StoreError as e:
        if e.reason == "not_found":
            return None
        raise
    try:
        out = json.loads(data)
        return out if isinstance(out, dict) else {}
    except ValueError:
        return {}


def _mine(info: dict | None) -> bool:
    return bool(info) and info.get("host") == socket.gethostname() and info.get("pid") == os.getpid()


def acquire(store: Store, root: str, run_id: str, job: str) -> dict:
    """Take the lease for this process; raise :class:`LeaseHeld` when another process holds it. A lease this same
    process holds already (several jobs run in one interpreter) is taken over. Returns what was written."""
    uri = lease_uri(root)
    info = {
        "run_id": run_id,
        "job": job,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    data = json.dumps(info, sort_keys=True).encode()
    if store.create_exclusive(uri, data):
        return info
    current = holder(store, root)
    if current is None and store.create_exclusive(uri, data):  # released between the two calls
        return info
    if _mine(current):
        store.write_bytes(uri, data)
        return info
    raise LeaseHeld(uri, current or {})


def release(store: Store, root: str, run_id: str) -> bool:
    """Delete the lease if ``run_id`` holds it (never another job's); True when it was deleted."""
    current = holder(store, root)
    if current is None or current.get("run_id") != run_id:
        return False
    store.delete(lease_uri(root))
    return True


def clear(store: Store, root: str) -> dict | None:
    """Delete the lease whoever holds it (a stale lease of a killed job); returns what it said."""
    current = holder(store, root)
    if current is not None:
        store.delete(lease_uri(root))
    return current
