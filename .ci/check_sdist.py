"""Check the sdist ships the test suite whole (helpers, snapshots, what the tests read) or not at all."""

import sys
import tarfile
from pathlib import Path

with tarfile.open(sys.argv[1]) as sdist:
    files = {m.name.split("/", 1)[1] for m in sdist.getmembers() if m.isfile() and "/" in m.name}
tests = {n for n in files if n.startswith("tests/")}
# CI runs in a fresh clone: what is under tests/ (less Python's caches) is what git has.
tracked = {p.as_posix() for p in Path("tests").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
missing = sorted(tracked - tests) if tests else []
extra = sorted(n for n in tests if n not in tracked)
if tests and "manifest.json" not in files:
    missing.append("manifest.json (tests/test_distribution.py reads it)")
if missing or extra:
    print(f"sdist: ships part of the test suite: missing {missing}, not in the repository {extra}")
    sys.exit(1)
print(f"sdist: {len(files)} files, the test suite {'whole' if tests else 'left out'}")
