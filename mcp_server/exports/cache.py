"""A bounded on-disk cache of export indexes, so follow-up reads of the same export are instant.

One directory per export, named by a hash of its URL without the GCS/S3 signing parameters
(``SIGNING_PARAMS``: a fresh signed URL for the same file hits the same entry). An entry is built in a
scratch directory and renamed into place only when complete, with a manifest written last that records
each file's size and CRC-32: an entry without a readable manifest, with a file of the wrong size, or
whose data fails its CRC, is deleted and rebuilt, never served. Entries older than ``max_age`` go; when
the cache outgrows ``max_bytes`` the least recently used entries go first.

A sync needs only an export's summary, and creating a dozen files per export was most of its cost: a
*summary-only* entry is one file beside the directories, ``<key>.summary.json`` (a manifest line, then the
summary), written under a temporary name and renamed into place. It serves digests; a listing of that export
reads it again in full (and the full entry replaces it)."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import threading
import time
import uuid
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import msgspec
import orjson

from mcp_server.exports.index import SUMMARY_FILE
from mcp_server.exports.summary import SessionSummary, decode_summary

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
SUMMARY_ONLY_SUFFIX = ".summary.json"
_PART_PREFIX = ".part-"  # a summary-only entry being written
_DECODED_SUMMARIES = 8  # kept decoded in memory, each of at most:
_DECODED_SUMMARY_BYTES = 256 << 10  # (typical summaries are tens of KB; the cap is SUMMARY_MAX_BYTES)
_WALK_EVERY = 60.0  # seconds
FORMAT_VERSION = 3  # 3: typed summary, compact rows, error groups, signed cursors
# The query parameters that only sign or expire a URL, on the storage services LogRocket's exports are known to
# use. LogRocket calls the export links signed URLs without naming the service; the buckets its exports write
# to are Google Cloud Storage and Amazon S3. So: GCS and S3 signing, in their V4 and older V2 forms, by exact
# name, compared without case as both services do. Every other parameter (``response-*`` overrides, a
# generation, anything an app adds) is part of what is fetched, so it stays in the key verbatim, in its order.
SIGNING_PARAMS = frozenset(
    {
        # GCS V4 signing.
        "x-goog-algorithm",
        "x-goog-credential",
        "x-goog-date",
        "x-goog-expires",
        "x-goog-signedheaders",
        "x-goog-signature",
        # GCS V2 signing.
        "googleaccessid",
        # S3 SigV4 presigning (a temporary credential adds its session token).
        "x-amz-algorithm",
        "x-amz-credential",
        "x-amz-date",
        "x-amz-expires",
        "x-amz-signedheaders",
        "x-amz-signature",
        "x-amz-security-token",
        # S3 SigV2.
        "awsaccesskeyid",
        # V2 of both: expiry and signature.
        "expires",
        "signature",
    }
)


def url_key(url: str) -> str:
    """The export's identity: its URL without the parameters that only sign or expire it.

    Only the scheme and host are normalised (case, default port); the path and the remaining query are kept
    byte for byte and in order, so two URLs that could name different files never share an entry.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url  # not one urlsplit reads (the fetcher's parser accepted it): the URL is its own key
    kept = [item for item in parts.query.split("&") if item and _param_name(item) not in SIGNING_PARAMS]
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port or ''}{parts.path}?{'&'.join(kept)}"


def _param_name(item: str) -> str:
    """A query item's parameter name as the storage service reads it (percent-decoded, any case)."""
    return unquote_plus(item.partition("=")[0]).lower()


@dataclass(frozen=True)
class Entry:
    directory: Path
    manifest: dict[str, Any]
    # The summary's bytes as read and checked against the manifest, so what is served is what was checked.
    summary_bytes: bytes | None = None
    decoded: SessionSummary | None = field(default=None, compare=False)  # those bytes decoded (read-only)

    @property
    def summary_only(self) -> bool:
        """A summary without listing files (what a sync writes): a listing needs the export read again."""
        return bool(self.manifest.get("summary_only"))

    @property
    def tag(self) -> str:
        """Changes whenever the entry is rebuilt; cursors carry it so they never point into another build."""
        return str(self.manifest["tag"])

    def summary(self) -> SessionSummary:
        """The summary, from bytes that passed their checksum (CorruptEntry if they do not, or do not decode)."""
        if self.decoded is not None:
            return self.decoded
        raw = self.summary_bytes if self.summary_bytes is not None else checked_bytes(self, SUMMARY_FILE)
        try:
            return decode_summary(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise CorruptEntry(f"{SUMMARY_FILE} is unreadable ({exc})") from None

    def path(self, name: str) -> Path:
        return self.directory / name


class CorruptEntry(Exception):
    pass


def checked_bytes(entry: Entry, name: str) -> bytes:
    """A (small) file of the entry, read once and checked against its size and CRC-32 in the manifest."""
    try:
        size, expected = entry.manifest["files"][name]
        data = (entry.directory / name).read_bytes()
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise CorruptEntry(f"{name} is unreadable ({exc})") from None
    if len(data) != size or zlib.crc32(data) != expected:
        raise CorruptEntry(f"{name} fails its checksum")
    return data


class ExportCache:
    def __init__(self, root: Path, *, max_bytes: int, max_age: float) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.max_age = max_age
        # Files whose CRC matched, with what their inode said then (number, size, mtime, ctime). Any change to
        # a file moves its ctime, which no one but the clock can set back, so a file is checked again on the
        # first read after it changed, however the change was made; an unchanged one is not re-read per page.
        self._verified: dict[Path, tuple[int, int, int, int]] = {}
        # Eviction walks every entry: a sync committing thousands of small entries must not walk them all each
        # time. It runs when the entries added since the last walk could pass the cap, or once a minute.
        self._total_at_walk: int | None = None
        self._added_since_walk = 0
        self._walked_at = 0.0
        self._upkeep = threading.RLock()
        # The decoded summaries of the last entries served, so that a follow-up call on an export does not decode its
        # summary again (a tenth of a listing call's time). Keyed by what changes with every build of an entry, and
        # used only once the bytes read now passed their checksum: shared, so never to be changed.
        self._summaries: OrderedDict[tuple[str, int, Any, Any], SessionSummary] = OrderedDict()

    @staticmethod
    def key(url: str) -> str:
        return hashlib.sha256(url_key(url).encode()).hexdigest()[:40]

    def entry_keys(self) -> list[str]:
        """The keys of the entries in the cache (full or summary-only), sorted."""
        names = [p.name for p in self.root.iterdir()] if self.root.exists() else []
        return sorted({n.removesuffix(SUMMARY_ONLY_SUFFIX) for n in names if not n.startswith(".")})

    def lookup(self, key: str) -> Entry | None:
        """The entry for ``key``: the full one when there is one, else a summary-only one, else None."""
        self._private_root()
        entry = self._lookup_full(key)
        if entry is not None:
            return entry
        return self._lookup_summary_only(key)

    def _lookup_summary_only(self, key: str) -> Entry | None:
        path = self.root / (key + SUMMARY_ONLY_SUFFIX)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._discard(path, f"unusable ({exc})")
            return None
        try:
            head, newline, summary_bytes = data.partition(b"\n")
            manifest = orjson.loads(head)
            if not newline or manifest.get("version") != FORMAT_VERSION or not manifest.get("summary_only"):
                raise CorruptEntry("not a summary entry of this version")
            if time.time() - float(manifest["created"]) > self.max_age:
                self._discard(path, "expired")
                return None
            size, crc = manifest["files"][SUMMARY_FILE]
            if len(summary_bytes) != size or zlib.crc32(summary_bytes) != crc:
                raise CorruptEntry(f"{SUMMARY_FILE} fails its checksum")
            entry = self._decoded(Entry(path, manifest, summary_bytes))
        except (CorruptEntry, ValueError, KeyError, TypeError) as exc:
            self._discard(path, f"unusable ({exc})")
            return None
        os.utime(path)  # last use, for eviction
        return entry

    def _lookup_full(self, key: str) -> Entry | None:
        directory = self.root / key
        manifest_path = directory / MANIFEST
        if not manifest_path.exists():
            if directory.exists():
                self._discard(directory, "no manifest (an interrupted build)")
            return None
        try:
            manifest = orjson.loads(manifest_path.read_bytes())
            if manifest.get("version") != FORMAT_VERSION:
                raise CorruptEntry("made by another version")
            if time.time() - float(manifest["created"]) > self.max_age:
                self._discard(directory, "expired")
                return None
            for name, (size, _crc) in manifest["files"].items():
                if (directory / name).stat().st_size != size:
                    raise CorruptEntry(f"{name} has the wrong size")
            entry = Entry(directory, manifest)
            # A summary that passes its checksum but does not parse is no better.
            entry = self._decoded(Entry(directory, manifest, checked_bytes(entry, SUMMARY_FILE)))
        except (CorruptEntry, OSError, ValueError, KeyError, TypeError) as exc:
            self._discard(directory, f"unusable ({exc})")
            return None
        os.utime(manifest_path)  # last use, for eviction
        return entry

    def _decoded(self, entry: Entry) -> Entry:
        """``entry`` with its (checked) summary decoded: CorruptEntry if it does not decode."""
        manifest = entry.manifest
        key = (str(entry.directory), manifest["files"][SUMMARY_FILE][1], manifest.get("tag"), manifest.get("created"))
        with self._upkeep:
            summary = self._summaries.pop(key, None)
        if summary is None:
            summary = entry.summary()
        if len(entry.summary_bytes or b"") <= _DECODED_SUMMARY_BYTES:
            with self._upkeep:
                self._summaries[key] = summary  # (back) at the end: the most recently used
                while len(self._summaries) > _DECODED_SUMMARIES:
                    self._summaries.popitem(last=False)
        return Entry(entry.directory, manifest, entry.summary_bytes, summary)

    def verify(self, entry: Entry, name: str) -> None:
        """Check a file's CRC-32 before it is read, unless it passed and has not changed since; CorruptEntry if not."""
        file_path = entry.directory / name
        try:
            expected = entry.manifest["files"][name][1]
            st = file_path.stat()
        except (OSError, KeyError, TypeError, IndexError) as exc:
            raise CorruptEntry(f"{name} is unreadable ({exc})") from None
        identity = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if self._verified.get(file_path) == identity:
            return
        crc = 0
        with file_path.open("rb") as file:
            while chunk := file.read(1 << 20):
                crc = zlib.crc32(chunk, crc)
        if crc != expected:
            self._verified.pop(file_path, None)
            raise CorruptEntry(f"{name} fails its checksum")
        if len(self._verified) > 4096:
            self._verified.clear()
        self._verified[file_path] = identity

    def scratch(self) -> Path:
        self._private_root()
        building = self.root / ".building"
        building.mkdir(mode=0o700, exist_ok=True)
        path = building / uuid.uuid4().hex
        path.mkdir(mode=0o700)
        return path

    def commit(self, scratch: Path, key: str, files: dict[str, tuple[int, int]], extra: dict[str, Any]) -> Entry:
        """Seal a finished build (manifest last) and move it into place, replacing any older entry."""
        manifest = {
            "version": FORMAT_VERSION,
            "created": time.time(),
            "tag": uuid.uuid4().hex[:12],
            "files": files,
            **extra,
        }
        # Entries hold users' names and emails: owner-only, whatever the umask made of the builder's files.
        scratch.chmod(0o700)
        for built in scratch.iterdir():
            built.chmod(0o600)
        descriptor = os.open(scratch / MANIFEST, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(orjson.dumps(manifest))
        target = self.root / key
        if target.exists():
            self._discard(target, "replaced")
        try:
            scratch.rename(target)
        except OSError:
            # Another worker finished the same export first: use theirs if it is sound.
            shutil.rmtree(scratch, ignore_errors=True)
            existing = self.lookup(key)
            if existing is None:
                raise
            return existing
        summary_only = self.root / (key + SUMMARY_ONLY_SUFFIX)
        if summary_only.exists():
            self._discard(summary_only, "read in full")
        self._added(key, sum(size for size, _ in files.values()))
        return Entry(target, manifest)

    def _added(self, key: str, size: int) -> None:
        # A sync commits its entries from a worker thread while the event loop commits reads of its own.
        with self._upkeep:
            self._added_since_walk += size
            if (
                self._total_at_walk is None
                or self._total_at_walk + self._added_since_walk > self.max_bytes
                or time.monotonic() - self._walked_at > _WALK_EVERY
            ):
                self.evict(keep=key)

    def commit_summary_only(self, key: str, summary_bytes: bytes, extra: dict[str, Any]) -> Entry | None:
        """Write a summary-only entry: one file, the manifest line first, renamed into place when complete.

        None when a full entry of the export is there already (a read in full while the sync's summary waited
        for its batch): it serves the summary too, and a second copy would only take room."""
        if (self.root / key / MANIFEST).exists():
            return None
        manifest = {
            "version": FORMAT_VERSION,
            "created": time.time(),
            "tag": uuid.uuid4().hex[:12],
            "files": {SUMMARY_FILE: (len(summary_bytes), zlib.crc32(summary_bytes))},
            "summary_only": True,
            **extra,
        }
        self._private_root()
        part = self.root / f"{_PART_PREFIX}{uuid.uuid4().hex}"
        target = self.root / (key + SUMMARY_ONLY_SUFFIX)
        try:
            # Owner-only from the first byte: the summary names the user.
            descriptor = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(orjson.dumps(manifest) + b"\n" + summary_bytes)
            part.replace(target)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        self._added(key, len(summary_bytes))
        return Entry(target, manifest, summary_bytes)

    def drop(self, key: str, why: str) -> None:
        """Remove an entry found damaged after it was opened (it is rebuilt on the next read), in either form."""
        for path in (self.root / key, self.root / (key + SUMMARY_ONLY_SUFFIX)):
            if path.exists():
                self._discard(path, why)

    def discard(self, scratch: Path) -> None:
        shutil.rmtree(scratch, ignore_errors=True)

    def evict(self, keep: str | None = None) -> None:
        """Drop expired entries, then the least recently used until the cache fits its size cap."""
        with self._upkeep:
            self._evict(keep)

    def _evict(self, keep: str | None) -> None:
        entries: list[tuple[float, int, Path]] = []
        now = time.time()
        for directory in self.root.iterdir() if self.root.exists() else ():
            if directory.name.startswith("."):
                if directory.name == ".building":
                    self._sweep_scratch(directory, now)
                elif directory.name.startswith(".trash-"):
                    _remove(directory)
                elif directory.name.startswith(_PART_PREFIX):
                    self._sweep_part(directory, now)
                continue
            summary_only = directory.name.endswith(SUMMARY_ONLY_SUFFIX)
            manifest = directory if summary_only else directory / MANIFEST
            try:
                st = manifest.stat()
                head = manifest.read_bytes().partition(b"\n")[0] if summary_only else manifest.read_bytes()
                created = float(orjson.loads(head)["created"])
            except (OSError, ValueError, KeyError, TypeError):
                self._discard(directory, "unreadable")
                continue
            key = directory.name.removesuffix(SUMMARY_ONLY_SUFFIX)
            if now - created > self.max_age and key != keep:
                self._discard(directory, "expired")
                continue
            size = st.st_size if summary_only else sum(f.stat().st_size for f in directory.iterdir())
            entries.append((st.st_mtime, size, directory))
        total = sum(size for _, size, _ in entries)
        for _, size, directory in sorted(entries):
            if total <= self.max_bytes:
                break
            if directory.name.removesuffix(SUMMARY_ONLY_SUFFIX) == keep:
                continue
            self._discard(directory, "over the cache size cap")
            total -= size
        self._total_at_walk, self._added_since_walk, self._walked_at = total, 0, time.monotonic()

    def _sweep_scratch(self, building: Path, now: float) -> None:
        for scratch in building.iterdir():
            try:
                if now - scratch.stat().st_mtime > 3600:
                    shutil.rmtree(scratch, ignore_errors=True)
            except OSError:
                continue

    def _sweep_part(self, part: Path, now: float) -> None:
        try:
            if now - part.stat().st_mtime > 3600:  # left by a worker that stopped while writing it
                part.unlink()
        except OSError:
            pass

    def _private_root(self) -> None:
        """The cache folder, created owner-only (0700), and made so if it was not: entries hold names and emails.

        One stat when it is already so (this runs for every read, and a sync makes thousands)."""
        try:
            mode = self.root.stat().st_mode
        except FileNotFoundError:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            mode = self.root.stat().st_mode
        try:
            if mode & 0o077:
                self.root.chmod(0o700)
        except OSError as exc:  # not ours to change: say so, the entries inside are still owner-only
            logger.warning("export cache: cannot make %s owner-only: %s", self.root, exc)

    def _discard(self, directory: Path, why: str) -> None:
        logger.info("export cache: dropping %s: %s", directory.name, why)
        trash = directory.with_name(f".trash-{uuid.uuid4().hex}")
        try:
            directory.rename(trash)
        except OSError:
            trash = directory
        _remove(trash)


def _remove(path: Path) -> None:
    """Delete an entry: a directory, or a summary-only entry's file."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def default_cache_dir() -> Path:
    """The platform's per-user cache directory."""
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif os.uname().sysname == "Darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "session-replay-mcp" / "exports"
