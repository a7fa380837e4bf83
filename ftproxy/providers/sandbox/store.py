"""What the sandbox provider keeps on disk.

``SandboxStore`` holds the state shared by every process; how a stored job
record reads back against the clock is ``clock.SandboxJob``.

Layout under the storage directory::

    files/<file-id>.json   a file's record     files/<file-id>.bin   its bytes
    jobs/<ftjob-id>.json   a job's record      .lock                 the flock target

Records are replaced atomically (temp file + ``os.replace``), so a reader
never sees half a document and needs no lock. Read-modify-write sequences
run under ``SandboxStore.locked()``, an exclusive ``flock`` on ``.lock``, so
several server workers (or sync processes) never lose each other's updates.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

CHUNK_SIZE = 1024 * 1024

# Ids are used as file names: anything else is simply "not found", which
# also keeps "../" and friends out of the storage directory.
_ID_PATTERNS = {
    "files": re.compile(r"file-[0-9a-f]{8,64}"),
    "jobs": re.compile(r"ftjob-[0-9a-f]{8,64}"),
}


def default_storage_dir() -> Path:
    """``$FTPROXY_VAR_DIR/sandbox`` if that variable is set, else
    ``var/sandbox`` under the current working directory."""
    var_dir = os.environ.get("FTPROXY_VAR_DIR")
    return (Path(var_dir) if var_dir else Path("var")) / "sandbox"


class SandboxStore:
    """JSON records and file blobs under one directory (created on demand)."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root).absolute()

    def _dir(self, kind: str) -> Path:
        path = self.root / kind
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _path(self, kind: str, object_id: str, ext: str) -> Path | None:
        if not isinstance(object_id, str) or not _ID_PATTERNS[kind].fullmatch(object_id):
            return None
        return self.root / kind / f"{object_id}{ext}"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store-wide exclusive lock (across processes)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+b") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    # ---- records -------------------------------------------------------
    def read(self, kind: str, object_id: str) -> dict[str, Any] | None:
        """The record, or None if there is none (or the id is malformed)."""
        path = self._path(kind, object_id, ".json")
        if path is None:
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def records(self, kind: str) -> Iterator[dict[str, Any]]:
        """Every record of ``kind`` (a scan: for the rare lookups by content)."""
        for path in sorted(self._dir(kind).glob("*.json")):
            try:
                yield json.loads(path.read_text(encoding="utf-8"))
            except (FileNotFoundError, ValueError):
                continue  # deleted, or being replaced, meanwhile

    def write(self, kind: str, record: dict[str, Any]) -> None:
        """Replace the record named by ``record["id"]`` atomically."""
        directory = self._dir(kind)
        with self._temp_file(directory, ".json") as (tmp_file, tmp_path):
            tmp_file.write(json.dumps(record, sort_keys=True).encode())
            tmp_file.close()
            os.replace(tmp_path, directory / f"{record['id']}.json")

    def delete(self, kind: str, object_id: str) -> bool:
        """Remove the record (and a file's blob); False if there was none.
        The record goes first, so readers see the object vanish at once; a
        download already streaming keeps its open handle."""
        path = self._path(kind, object_id, ".json")
        if path is None:
            return False
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        if kind == "files":
            with contextlib.suppress(FileNotFoundError):
                path.with_suffix(".bin").unlink()
        return True

    # ---- blobs ---------------------------------------------------------
    def save_blob(self, file_id: str, stream: IO[bytes]) -> tuple[int, int]:
        """Copy ``stream`` to the file's blob chunk by chunk; return
        ``(bytes, lines)``. Call before writing the record, so that a record
        always has its blob."""
        directory = self._dir("files")
        size = lines = 0
        last = b"\n"
        with self._temp_file(directory, ".bin") as (tmp_file, tmp_path):
            while chunk := stream.read(CHUNK_SIZE):
                tmp_file.write(chunk)
                size += len(chunk)
                lines += chunk.count(b"\n")
                last = chunk[-1:]
            tmp_file.close()
            os.replace(tmp_path, directory / f"{file_id}.bin")
        return size, lines + (last != b"\n")

    def save_blob_bytes(self, file_id: str, data: bytes) -> None:
        """Store a small blob the sandbox made itself (a results CSV)."""
        directory = self._dir("files")
        with self._temp_file(directory, ".bin") as (tmp_file, tmp_path):
            tmp_file.write(data)
            tmp_file.close()
            os.replace(tmp_path, directory / f"{file_id}.bin")

    def open_blob(self, file_id: str) -> IO[bytes] | None:
        """The file's bytes opened for reading, or None."""
        path = self._path("files", file_id, ".bin")
        try:
            return open(path, "rb") if path else None  # the caller closes it
        except FileNotFoundError:
            return None

    @staticmethod
    @contextlib.contextmanager
    def _temp_file(directory: Path, suffix: str) -> Iterator[tuple[IO[bytes], str]]:
        fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=suffix)
        tmp_file = os.fdopen(fd, "wb")
        try:
            yield tmp_file, tmp_path
        finally:
            tmp_file.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_path)  # only still there if something failed
