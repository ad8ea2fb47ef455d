"""The README's test command, timed as a new contributor runs it, on a clean clone, quiet or under load.

    python bench/suite.py [--runs 3] [--burners 0] [--ref HEAD]

Clones the repository at ``--ref`` (committed work only, as CI sees it) into a temporary folder, starts
``--burners`` processes that each keep a core busy, and runs the test command from the README verbatim
``--runs`` times in the clone: the first run creates ``.venv`` and installs everything, the next ones find
it in place. Prints each run's wall time, pytest's own summary line and whether it passed, then the median
of the runs after the first. PostgreSQL cases run when SESSION_REPLAY_MCP_TEST_POSTGRES_URL is set, as in CI.

Targets (issue 12): the test command under 60 s on this machine (once .venv exists), and green in 10 of 10
runs beside two busy processes (``--runs 10 --burners 2``).
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_command(readme: str) -> str:
    """The shell command in the README's block marked ``<!-- test-command -->``."""
    found = re.search(r"<!-- test-command -->\s*```sh\n(.+?)\n```", readme, re.DOTALL)
    if found is None:
        raise SystemExit("README.md has no <!-- test-command --> block")
    return found.group(1).strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--burners", type=int, default=0, help="processes that each keep one core busy")
    parser.add_argument("--ref", default="HEAD", help="the commit to clone")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    with tempfile.TemporaryDirectory(prefix="srm-suite-") as folder:
        clone = Path(folder) / "repo"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        subprocess.run(["git", "-C", str(clone), "checkout", "-q", args.ref], check=True)
        command = test_command((clone / "README.md").read_text(encoding="utf-8"))
        print(f"command: {command}\nclone of {args.ref}, {args.burners} busy process(es) beside it", flush=True)
        burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.burners)]
        times: list[float] = []
        passed = 0
        try:
            for n in range(1, args.runs + 1):
                started = time.perf_counter()
                done = subprocess.run(["bash", "-c", command], cwd=clone, capture_output=True, text=True)
                took = time.perf_counter() - started
                times.append(took)
                passed += done.returncode == 0
                summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
                verdict = "passed" if done.returncode == 0 else f"FAILED (exit {done.returncode})"
                print(f"run {n}: {took:5.1f} s, {verdict}: {summary}", flush=True)
        finally:
            for burner in burners:
                burner.kill()
                burner.wait()
    later = times[1:] or times
    print(f"{passed} of {args.runs} runs passed; median with .venv in place {statistics.median(later):.1f} s")
    quiet = args.burners == 0
    print("targets (issue 12):")
    if quiet:
        print(f"  {'met    ' if statistics.median(later) < 60 else 'NOT met'} the test command under 60 s")
    print(f"  {'met    ' if passed == args.runs else 'NOT met'} green in every run ({passed} of {args.runs})")


if __name__ == "__main__":
    main()
