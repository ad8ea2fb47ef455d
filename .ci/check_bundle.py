"""Check a packed MCP Bundle holds what the server needs and nothing it does not."""

import sys
import zipfile

names = set(zipfile.ZipFile(sys.argv[1]).namelist())
required = {
    "manifest.json",
    "pyproject.toml",
    "README.md",
    "LICENSE",
    # The versions CI tested: the manifest runs `uv run --frozen`, which installs exactly these.
    "uv.lock",
    "mcp_server/__main__.py",
    "mcp_server/py.typed",
    "mcp_server/adapters/highlight_schema.graphql",
}
missing = required - names
unwanted = sorted(
    n
    for n in names
    if n.startswith(("tests/", "bench/", ".ci/", ".git", ".venv/", "build/", "dist/"))
    or "__pycache__" in n
    or n.endswith((".pyc", ".mcpb"))
    or not (n.startswith("mcp_server/") or n in required)
)
if missing or unwanted:
    print(f"bundle: missing {sorted(missing)}, unwanted {unwanted}")
    sys.exit(1)
print(f"bundle: {len(names)} files, all needed, nothing extra")
