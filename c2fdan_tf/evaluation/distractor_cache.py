"""Distractor embeddings kept on disk, per recognizer and distractor list.

The identification protocol ranks every probe against up to a million distractors; their
embeddings depend only on the recognizer's weights and on the distractor images, not on the
method or the ablation row under test, yet embedding them is most of the protocol's time
(1 M faces: ~27 h with the paper's extractor on a 2-core CPU). They are computed once and
read back by every later method, row and run:

    <cache>/distractor_embeddings/<key>.f32    float32 rows, written as computed
    <cache>/distractor_embeddings/<key>.json   {"rows", "dim", ...}: written last (the entry is whole)

`key` hashes the recognizer's weights digest with the distractor list's digest (file names
and sizes, or the synthetic set's parameters), so a retrained recognizer or another list
never reads stale rows. An interrupted run leaves only a partial `.f32.tmp`, never an entry.
"""

import hashlib
import json
import os
from pathlib import Path

import numpy as np


def cache_key(recognizer_digest, distractor_digest):
    return hashlib.sha256(f"{recognizer_digest}|{distractor_digest}".encode()).hexdigest()[:32]


def cached_embeddings(folder, key, rows, compute, describe=None):
    """Yields the first `rows` distractor embeddings in chunks: from `folder/<key>` when a whole
    entry with at least `rows` rows is there, else from `compute()` (an iterator of embedding
    chunks, in distractor order), written to the entry as they come. `describe` (a dict) is
    stored beside the rows for the reader's information."""
    folder = Path(folder)
    header, data = folder / f"{key}.json", folder / f"{key}.f32"
    stored = _read_header(header)
    if stored is not None and stored["rows"] >= rows and data.exists():
        table = np.memmap(data, np.float32, "r", shape=(stored["rows"], stored["dim"]))
        for start in range(0, rows, 65536):
            yield np.asarray(table[start : min(rows, start + 65536)])
        return
    folder.mkdir(parents=True, exist_ok=True)
    partial = data.with_name(f"{data.name}.{os.getpid()}.tmp")
    written, dim = 0, None
    out = open(partial, "wb")
    try:
        for chunk in compute():
            chunk = np.ascontiguousarray(chunk, np.float32)
            out.write(chunk.tobytes())
            written, dim = written + len(chunk), chunk.shape[1]
            if written >= rows:  # whole before the last chunk is handed out: the reader may stop there
                break
            yield chunk
        out.close()
        if dim is not None:
            os.replace(partial, data)
            temporary = header.with_name(f"{header.name}.{os.getpid()}.tmp")
            temporary.write_text(json.dumps({"rows": written, "dim": dim, **(describe or {})}))
            os.replace(temporary, header)  # last: only now is the entry whole
        if written >= rows:
            yield chunk
    finally:
        out.close()
        if partial.exists():
            partial.unlink()


def _read_header(path):
    try:
        stored = json.loads(path.read_text())
        return stored if isinstance(stored.get("rows"), int) and isinstance(stored.get("dim"), int) else None
    except (OSError, ValueError, AttributeError):
        return None


def list_digest(folder, paths):
    """A digest of a distractor folder's list: every file's name (relative to `folder`) and
    size, in order."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            size = os.stat(path).st_size
        except OSError:
            size = -1
        digest.update(f"{Path(path).relative_to(folder)}\0{size}\n".encode())
    return digest.hexdigest()
