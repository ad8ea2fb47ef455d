"""Which export URLs may be fetched, enforced where it cannot be dodged: when the socket connects.

Export URLs arrive as tool arguments, so an agent (or whoever wrote the text it read) could aim them
at internal services: loopback, private networks, cloud metadata at 169.254.169.254. The rules:

- only ``https`` URLs to public addresses; ``http`` only for hosts the operator allowed;
- a host name is resolved and *every* address it has is checked; the connection then goes to the
  address that was checked (so DNS cannot answer differently a moment later);
- redirects are followed by hand and each hop is checked the same way (see download.py);
- hosts listed in ``LOGROCKET_EXPORT_ALLOWED_HOSTS`` (names, addresses, optionally ``:port``), and
  the sandbox's own address in sandbox mode, skip the address check.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

import httpx2

from mcp_server.errors import UserFacingError
from mcp_server.text import clean_text

ALLOWED_HOSTS_VAR = "LOGROCKET_EXPORT_ALLOWED_HOSTS"
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


@functools.lru_cache(maxsize=64)
def parse_url(url: str) -> httpx2.URL:
    """The URL as httpx2 reads it, parsed once for the check and the request (signed URLs are long: parsing
    one costs a fifth of a millisecond, and a sync fetches thousands). httpx2 URLs are immutable."""
    return httpx2.URL(url)


class UrlRefused(UserFacingError):
    """The export URL (or a redirect from it) points somewhere this server will not go."""


@dataclass(frozen=True)
class ExportUrlPolicy:
    allowed: frozenset[str] = frozenset()  # lower-case "host" or "host:port" entries

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> ExportUrlPolicy:
        return cls(frozenset(e.strip().lower().strip("/") for e in entries if e.strip()))

    def is_allowed_host(self, host: str, port: int | None) -> bool:
        host = host.lower().strip("[]")
        return (
            host in self.allowed
            or (port is not None and f"{host}:{port}" in self.allowed)
            or (port is not None and f"[{host}]:{port}" in self.allowed)
        )

    def check_url(self, url: str, *, hop: str = "") -> None:
        """Scheme and shape checks that need no network; the address check happens at connect time.

        The URL is read with the parser that fetches it (httpx2's), so these checks judge exactly what would
        be requested, and a URL it cannot parse is refused here rather than failing later.
        """
        try:
            parsed = parse_url(url)
            port = parsed.port
        except (httpx2.InvalidURL, ValueError, TypeError) as exc:
            raise UrlRefused(f"{hop}{_short(url)} is not a valid URL ({clean_text(str(exc), 120)}).") from None
        host = parsed.host
        if port is not None and not 0 < port < 65536:
            raise UrlRefused(f"{hop}{_short(url)} is not a valid URL (port {port} is out of range).")
        if parsed.scheme not in ("https", "http") or not host:
            raise UrlRefused(
                f"{hop}{_short(url)} is not an http(s) URL. Pass a download URL exactly as list_exports returned it."
            )
        if parsed.userinfo:
            raise UrlRefused(f"{hop}{_short(url)} carries credentials in the URL; that is not an export URL.")
        if parsed.scheme == "http" and not self.is_allowed_host(host, port or 80):
            if _from_a_sandbox(parsed):
                raise UrlRefused(
                    f"{hop}{_short(url)} is a download URL from a sandbox on port {port}, and this server's sandbox "
                    f"is not that one (or it runs without one). Start the server with --sandbox --sandbox-port {port} "
                    "to read it, or call list_exports here for URLs from this server's own sandbox."
                )
            raise UrlRefused(
                f"{hop}Only https export URLs are fetched (got {_short(url)}). If this is your own storage "
                f"served over plain http, add {host} to {ALLOWED_HOSTS_VAR}."
            )

    def check_address(self, host: str, address: str) -> None:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        why = _why_refused(ip)
        if why is None:
            return
        where = f"it is {why}" if host.strip("[]") == address else f"it resolves to {address}, {why}"
        raise UrlRefused(
            f"Refused to fetch from {host}: {where}. Export URLs must point to public hosts; if this is your own "
            f"storage, add {host} to {ALLOWED_HOSTS_VAR}."
        )


# IPv6 ranges that carry an IPv4 address a packet ends up at: 6to4 (RFC 3056), Teredo (RFC 4380: its server
# and its client), and NAT64's well-known prefix (RFC 6052), which DNS64 resolvers synthesise for IPv4-only
# hosts on IPv6-only networks, so it is judged by the address it embeds. Network-specific NAT64 prefixes
# cannot be told from ordinary addresses; the local-use one (RFC 8215) is refused outright.
_SIXTOFOUR = ipaddress.ip_network("2002::/16")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")  # deprecated, but still routed inside some sites


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to (mapped, 6to4, Teredo, NAT64, IPv4-compatible)."""
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in _SIXTOFOUR:
        return [ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF)]
    if ip.teredo is not None:
        return list(ip.teredo)
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return []


def _why_refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = embedded_ipv4(ip)
        for inner in embedded:
            why = _why_refused(inner)
            if why is not None:
                return why if ip.ipv4_mapped is not None else f"an IPv6 address leading to {inner}, {why}"
        if ip.ipv4_mapped is not None or (embedded and ip in _NAT64):
            return None  # judged by the IPv4 address it stands for, which passed
        if ip in _SITE_LOCAL:
            return "a site-local address"
        if ip in _NAT64_LOCAL:
            return "a local-use NAT64 address"
    if ip in _METADATA:
        return "the cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private:
        return "a private address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return "not a routable unicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10"):
        return "a carrier-grade NAT (shared) address"
    if not ip.is_global:
        return "not a public address"
    return None


def _from_a_sandbox(url: httpx2.URL) -> bool:
    """A URL the sandbox signed (mcp_server/sandbox/logrocket_api.py), on this machine."""
    return (
        url.path.startswith("/export-files/")
        and "sandbox-exporter" in url.params.get("X-Goog-Credential", "")
        and (url.host in ("localhost", "::1") or url.host.startswith("127."))
    )


def _short(url: str) -> str:
    return repr(url if len(url) <= 120 else url[:117] + "...")
