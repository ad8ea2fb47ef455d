"""A bounded on-disk cache of export indexes, so follow-up reads of the same export are instant.

One directory per export, named by a hash of its URL without the signing parameters (a fresh signed
URL for the same file hits the same entry). An entry is built in a scratch directory and renamed into
place only when complete, with a manifest written last that records each file's size and CRC-32:
an entry without a readable manifest, with a file of the wrong size, or whose data fails its CRC
when first read, is deleted and rebuilt, never served. Entries older than ``max_age`` go; when the
cache outgrows ``max_bytes`` the least recently used entries go first.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import msgspec
import orjson

from mcp_server.exports.index import SUMMARY_FILE
from mcp_server.exports.summary import SessionSummary, decode_summary

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
_WALK_EVERY = 60.0  # seconds
FORMAT_VERSION = 3  # 3: typed summary, compact rows, error groups, signed cursors
_SIGNING_PARAMS = (
    "x-goog-",
    "x-amz-",
    "expires",
    "signature",
    "key-pair-id",
    "policy",
    "googleaccessid",
    "awsaccesskeyid",
    "sig",
    "se",
    "st",
    "sp",
    "sv",
    "sr",
    "spr",
    "skoid",
    "sktid",
    "skt",
    "ske",
    "sks",
    "skv",
    "response-",
)


def url_key(url: str) -> str:
    """The export's identity: its URL without the parameters that only sign or expire it."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url  # not one urlsplit reads (the fetcher's parser accepted it): the URL is its own key
    kept = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.lower().startswith(_SIGNING_PARAMS)
    ]
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port or ''}{parts.path}?{urlencode(sorted(kept))}"


@dataclass(frozen=True)
class Entry:
    directory: Path
    manifest: dict[str, Any]

    @property
    def tag(self) -> str:
        """Changes whenever the entry is rebuilt; cursors carry it so they never point into another build."""
        return str(self.manifest["tag"])

    def summary(self) -> SessionSummary:
        try:
            return decode_summary((self.directory / SUMMARY_FILE).read_bytes())
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise CorruptEntry(f"{SUMMARY_FILE} is unreadable ({exc})") from None

    def path(self, name: str) -> Path:
        return self.directory / name


class CorruptEntry(Exception):
    pass


class ExportCache:
    def __init__(self, root: Path, *, max_bytes: int, max_age: float) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.max_age = max_age
        self._verified: set[tuple[str, str]] = set()
        # Eviction walks every entry: a sync committing thousands of small entries must not walk them all each
        # time. It runs when the entries added since the last walk could pass the cap, or once a minute.
        self._total_at_walk: int | None = None
        self._added_since_walk = 0
        self._walked_at = 0.0

    @staticmethod
    def key(url: str) -> str:
        return hashlib.sha256(url_key(url).encode()).hexdigest()[:40]

    def lookup(self, key: str) -> Entry | None:
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
            self.verify(entry, SUMMARY_FILE)
        except (CorruptEntry, OSError, ValueError, KeyError, TypeError) as exc:
            self._discard(directory, f"unusable ({exc})")
            return None
        os.utime(manifest_path)  # last use, for eviction
        return entry

    def verify(self, entry: Entry, name: str) -> None:
        """Check a file's CRC-32 the first time this process reads it; raise CorruptEntry on mismatch."""
        marker = (entry.tag, name)
        if marker in self._verified:
            return
        expected = entry.manifest["files"][name][1]
        crc = 0
        with (entry.directory / name).open("rb") as file:
            while chunk := file.read(1 << 20):
                crc = zlib.crc32(chunk, crc)
        if crc != expected:
            raise CorruptEntry(f"{name} fails its checksum")
        self._verified.add(marker)

    def scratch(self) -> Path:
        path = self.root / ".building" / uuid.uuid4().hex
        path.mkdir(parents=True)
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
        (scratch / MANIFEST).write_bytes(orjson.dumps(manifest))
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
        self._added_since_walk += sum(size for size, _ in files.values())
        if (
            self._total_at_walk is None
            or self._total_at_walk + self._added_since_walk > self.max_bytes
            or time.monotonic() - self._walked_at > _WALK_EVERY
        ):
            self.evict(keep=key)
        return Entry(target, manifest)

    def drop(self, key: str, why: str) -> None:
        """Remove an entry found damaged after it was opened (it is rebuilt on the next read)."""
        if (self.root / key).exists():
            self._discard(self.root / key, why)

    def discard(self, scratch: Path) -> None:
        shutil.rmtree(scratch, ignore_errors=True)

    def evict(self, keep: str | None = None) -> None:
        """Drop expired entries, then the least recently used until the cache fits its size cap."""
        entries: list[tuple[float, int, Path]] = []
        now = time.time()
        for directory in self.root.iterdir() if self.root.exists() else ():
            if directory.name.startswith("."):
                if directory.name == ".building":
                    self._sweep_scratch(directory, now)
                elif directory.name.startswith(".trash-"):
                    shutil.rmtree(directory, ignore_errors=True)
                continue
            manifest = directory / MANIFEST
            try:
                used = manifest.stat().st_mtime
                created = float(orjson.loads(manifest.read_bytes())["created"])
            except (OSError, ValueError, KeyError, TypeError):
                self._discard(directory, "unreadable")
                continue
            if now - created > self.max_age and directory.name != keep:
                self._discard(directory, "expired")
                continue
            size = sum(f.stat().st_size for f in directory.iterdir())
            entries.append((used, size, directory))
        total = sum(size for _, size, _ in entries)
        for _, size, directory in sorted(entries):
            if total <= self.max_bytes:
                break
            if directory.name == keep:
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

    def _discard(self, directory: Path, why: str) -> None:
        logger.info("export cache: dropping %s: %s", directory.name, why)
        trash = directory.with_name(f".trash-{uuid.uuid4().hex}")
        try:
            directory.rename(trash)
        except OSError:
            trash = directory
        shutil.rmtree(trash, ignore_errors=True)


def default_cache_dir() -> Path:
    """The platform's per-user cache directory."""
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif os.uname().sysname == "Darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "session-replay-mcp" / "exports"
