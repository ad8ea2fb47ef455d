"""A week of history for the sandbox: more people, more sessions, and story lines an agent can find.

The stories (each a few scripted events added to otherwise generated sessions):
- Dana Kowalski (dana@wayne.example, acme/web) keeps hitting a declined payment at checkout:
  ``POST /api/v2/checkout/session`` answers 402 and ``PaymentDeclinedError`` follows, session after session.
- Release v2.14.0 of acme/web (3 days before the anchor, 09:00 UTC) breaks the billing page: from then on,
  sessions that open ``/settings/billing`` throw ``TypeError: Cannot read properties of null (reading
  'invoiceTotal')``; no session before the release does.
- On acme/mobile, ``GET /api/v2/reports/weekly`` fails with 503 for every user on the free plan (and only
  for them).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

from mcp_server.sandbox.sessions import Event, SessionUser

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
HISTORY_DAYS = 7
RELEASE = "v2.14.0"
PAYMENT_USER = "u-2001"
RELEASE_ERROR = ("TypeError", "Cannot read properties of null (reading 'invoiceTotal')")
PAYMENT_ERROR = ("PaymentDeclinedError", "Card declined: insufficient_funds (card ending 4242)")
FREE_PLAN_ENDPOINT = "/api/v2/reports/weekly?range=7d"

# 30 people beyond the original six; names exercise Unicode case folding (ß, Turkish İ, Greek sigma, accents).
PEOPLE: tuple[tuple[str, str, str, dict[str, str]], ...] = (
    (PAYMENT_USER, "Dana Kowalski", "dana@wayne.example", {"plan": "pro", "company": "Wayne Enterprises"}),
    ("u-2002", "Björn Straße", "bjorn@stark.example", {"plan": "team", "company": "Stark Industries"}),
    ("u-2003", "İlkay Yıldız", "ilkay@soylent.example", {"plan": "free"}),
    ("u-2004", "ΣΟΦΊΑ Παππάς", "sofia.pappas@olympus.example", {"plan": "enterprise", "company": "Olympus"}),
    ("u-2005", "Zoë Ångström", "zoe@aperture.example", {"plan": "free"}),
    ("u-2006", "Mateo García", "mateo@tyrell.example", {"plan": "pro", "company": "Tyrell"}),
    ("u-2007", "Aiko Tanaka", "aiko@cyberdyne.example", {"plan": "team", "company": "Cyberdyne"}),
    ("u-2008", "Chidi Okafor", "chidi@oscorp.example", {"plan": "free"}),
    ("u-2009", "Fatima Zahra", "fatima@massive.example", {"plan": "pro"}),
    ("u-2010", "Lars Nilsson", "lars@vandelay.example", {"plan": "free"}),
    ("u-2011", "Priya Sharma", "priya@hooli.example", {"plan": "enterprise", "company": "Hooli"}),
    ("u-2012", "Noah Williams", "noah@initech.example", {"plan": "team"}),
    ("u-2013", "Élodie Lefèvre", "elodie@duff.example", {"plan": "free"}),
    ("u-2014", "Kwame Mensah", "kwame@gringotts.example", {"plan": "pro"}),
    ("u-2015", "Olga Ivanova", "olga@monarch.example", {"plan": "team"}),
    ("u-2016", "Tomás Silva", "tomas@wonka.example", {"plan": "free"}),
    ("u-2017", "Hannah Schmidt", "hannah@krusty.example", {"plan": "pro"}),
    ("u-2018", "Arjun Mehta", "arjun@nakatomi.example", {"plan": "free"}),
    ("u-2019", "Grace Kim", "grace@weyland.example", {"plan": "enterprise"}),
    ("u-2020", "Youssef Amrani", "youssef@acme.com", {"plan": "team", "company": "Acme Corp"}),
    ("u-2021", "Maja Nowak", "maja@globex.example", {"plan": "free"}),
    ("u-2022", "Ravi Kumar", "ravi@umbrella.example", {"plan": "pro"}),
    ("u-2023", "Siobhán Murphy", "siobhan@dunder.example", {"plan": "team"}),
    ("u-2024", "Diego Torres", "diego@pawnee.example", {"plan": "free"}),
    ("auth0|5f2b8c", "Ingrid Berg", "ingrid@sirius.example", {"plan": "pro"}),
    ("u-2026", "Kofi Boateng", "kofi@prestige.example", {"plan": "free"}),
    ("u-2027", "Mei Lin", "mei.lin@acme.com", {"plan": "enterprise", "company": "Acme Corp"}),
    ("u-2028", "Ömer Demir", "omer@blue-sun.example", {"plan": "team"}),
    ("u-2029", "Camille Dubois", "camille@bluth.example", {"plan": "pro"}),
    ("u-2030", "Jonas Weiß", "jonas@ollivanders.example", {"plan": "free"}),
)


@dataclass(frozen=True)
class Draft:
    """A session of the history before it gets its place in the export order."""

    exported_ms: int
    started_ms: int
    duration_ms: int
    recording_id: str
    user: SessionUser
    seed: int
    gzip: bool
    story: tuple[Event, ...]


def people() -> list[SessionUser]:
    return [SessionUser(uid, name, email, dict(traits)) for uid, name, email, traits in PEOPLE]


def release_ms(anchor_ms: int) -> int:
    return (anchor_ms - 3 * DAY_MS) // DAY_MS * DAY_MS + 9 * HOUR_MS


def drafts(org: str, app: str, seed: int, anchor_ms: int, count: int, site: str, api: str) -> list[Draft]:
    rng = random.Random(f"{seed}:history:{org}/{app}")
    population = people()
    payer = population[0]
    out = []
    for i in range(count):
        if app == "web" and i % 12 == 0:
            user = payer  # the payment story needs the same person again and again
        elif rng.random() < 0.1:
            user = SessionUser(f"anon-{rng.getrandbits(32):08x}", None, None)
        else:
            user = rng.choice(population[1:])
        duration = rng.randint(3, 30) * 60_000 + rng.randint(0, 59_999)
        started = anchor_ms - rng.randint(2 * HOUR_MS, HISTORY_DAYS * DAY_MS - HOUR_MS)
        exported = min(started + duration + HOUR_MS + rng.randint(60_000, 15 * 60_000), anchor_ms)
        rec = f"{rng.randint(1, 9)}-{uuid.UUID(int=rng.getrandbits(128), version=4)}"
        story = _story(rng, app, user, started, duration, anchor_ms, site, api)
        out.append(Draft(exported, started, duration, rec, user, rng.getrandbits(48), rng.random() < 0.5, story))
    return out


def _story(
    rng: random.Random,
    app: str,
    user: SessionUser,
    started: int,
    duration: int,
    anchor_ms: int,
    site: str,
    api: str,
) -> tuple[Event, ...]:
    beats: list[Event] = []

    def at(fraction: float) -> int:
        return int(duration * fraction)  # an offset; the session script adds its start

    if app == "web" and user.user_id == PAYMENT_USER:
        href = site + "/checkout"
        url = api + "/api/v2/checkout/session"
        beats += [
            Event("navigation", at(0.6), {"href": href}),
            Event("custom", at(0.61), {"name": "CheckoutStarted", "properties": {"plan": "pro"}, "href": href}),
            Event("request", at(0.62), {"reqId": "story-pay", "method": "POST", "url": url, "href": href}),
            _response(at(0.62) + 420, "story-pay", "POST", url, 402, 420, href),
            _exception(at(0.63), PAYMENT_ERROR, href),
        ]
    if app == "web" and started >= release_ms(anchor_ms) and rng.random() < 0.6:
        href = site + "/settings/billing"
        beats += [Event("navigation", at(0.3), {"href": href}), _exception(at(0.31), RELEASE_ERROR, href)]
    if app == "mobile" and user.traits.get("plan") == "free":
        url = api + FREE_PLAN_ENDPOINT
        href = site + "/reports/weekly"
        beats += [
            Event("navigation", at(0.4), {"href": href}),
            Event("request", at(0.41), {"reqId": "story-report", "method": "GET", "url": url, "href": href}),
            _response(at(0.41) + 950, "story-report", "GET", url, 503, 950, href),
        ]
    return tuple(beats)


def _response(t: int, req_id: str, method: str, url: str, status: int, duration: int, href: str) -> Event:
    data: dict[str, Any] = {
        "reqId": req_id,
        "method": method,
        "url": url,
        "status": status,
        "duration": duration,
        "href": href,
    }
    return Event("response", t, data)


def _exception(t: int, error: tuple[str, str], href: str) -> Event:
    return Event("exception", t, {"errorType": error[0], "message": error[1], "href": href, "exceptionType": "WINDOW"})
