"""Galileo-style highlights written from the sandbox's own sessions, with links that point into them."""

from __future__ import annotations

from collections import Counter
from typing import Any

from mcp_server.sandbox.sessions import SyntheticSession
from mcp_server.sandbox.world import HighlightJob, SandboxApp

MAX_SESSIONS = 10  # LogRocket uses at most the 10 most recent sessions


def build_result(app: SandboxApp, job: HighlightJob, *, default_window_ms: int, now_ms: int) -> dict[str, Any]:
    start = job.start_ms if job.start_ms is not None else now_ms - default_window_ms
    end = job.end_ms if job.end_ms is not None else now_ms
    mine = [
        s
        for s in app.sessions
        if (job.user_email and s.user.email == job.user_email) or (job.user_id and s.user.user_id == job.user_id)
    ]
    chosen = sorted((s for s in mine if start <= s.started_ms <= end), key=lambda s: -s.started_ms)[:MAX_SESSIONS]
    who = job.user_email or job.user_id
    if not chosen:
        return {"highlights": f"No sessions were found for {who} in the requested time range.", "sessions": []}
    per_session = [_session_highlights(app, s) for s in chosen]
    errors = sum(p["errors"] for p in per_session)
    failed = sum(p["failed"] for p in per_session)
    first_problem = next((p for p in per_session if p["problem_link"]), None)
    overview = [
        f"**{who}** had {len(chosen)} session{'s' if len(chosen) != 1 else ''} in this period.",
        f"- {errors} JavaScript error{'s' if errors != 1 else ''} and {failed} failed network "
        f"request{'s' if failed != 1 else ''} across these sessions.",
    ]
    if first_problem:
        overview.append(f"- The most recent trouble: [{first_problem['problem']}]({first_problem['problem_link']}).")
    if job.question:
        overview.append(f'- Regarding "{job.question}": see the per-session notes below.')
    return {
        "highlights": "\n".join(overview),
        "sessions": [
            {"recordingID": s.recording_id, "sessionID": s.session_index, "highlights": p["markdown"]}
            for s, p in zip(chosen, per_session, strict=True)
        ],
    }


def _session_highlights(app: SandboxApp, s: SyntheticSession) -> dict[str, Any]:
    link = f"https://app.logrocket.com/{app.spec.org}/{app.spec.app}/s/{s.recording_id}/{s.session_index}"
    pages: list[str] = []
    errors = 0
    failed = 0
    customs: Counter[str] = Counter()
    problem = problem_link = None
    for e in s.events():
        if e.kind == "navigation":
            pages.append(e.data["href"])
        elif e.kind == "exception":
            errors += 1
            if problem is None:
                problem = f"{e.data['errorType']}: {e.data['message']}"
                problem_link = f"{link}?t={e.t}"
        elif e.kind == "response" and e.data["status"] >= 400:
            failed += 1
            if problem is None:
                problem = f"{e.data['method']} {e.data['url']} returned {e.data['status']}"
                problem_link = f"{link}?t={e.t}"
        elif e.kind == "custom":
            customs[e.data["name"]] += 1
    lines = [f"- [Session start]({link}?t={s.started_ms}): visited {len(pages)} pages."]
    if customs:
        lines.append("- Did: " + ", ".join(f"{name} ×{n}" for name, n in customs.most_common(3)) + ".")
    if problem:
        lines.append(f"- [Ran into trouble]({problem_link}): {problem}.")
    else:
        lines.append("- No errors or failed requests.")
    return {
        "markdown": "\n".join(lines),
        "errors": errors,
        "failed": failed,
        "problem": problem,
        "problem_link": problem_link,
    }
