"""IPv6 addresses that lead to an IPv4 address are judged by it; deprecated site-local addresses are refused.

6to4 (``2002::/16``, embedding e.g. 10.0.0.1) and site-local ``fec0::/10`` were once accepted as public.
"""

from __future__ import annotations

import pytest

from mcp_server.exports.guard import ExportUrlPolicy, UrlRefused
from mcp_server.settings import Settings
from tests.conftest import connect, text_of

REFUSED = {
    "2002:a00:1::": "an IPv6 address leading to 10.0.0.1, a private address",  # 6to4
    "2002:7f00:1::1": "an IPv6 address leading to 127.0.0.1, a loopback address",
    "2002:a9fe:a9fe::": "an IPv6 address leading to 169.254.169.254, the cloud metadata address",
    "2002:c0a8:101:1::1": "an IPv6 address leading to 192.168.1.1, a private address",
    "fec0::1": "a site-local address",
    "feff:ffff::1": "a site-local address",
    # Teredo: the client address is stored inverted (here 10.0.0.1).
    "2001:0:4136:e378:8000:63bf:f5ff:fffe": "an IPv6 address leading to 10.0.0.1, a private address",
    "64:ff9b::a00:1": "an IPv6 address leading to 10.0.0.1, a private address",  # NAT64 well-known prefix
    "64:ff9b::a9fe:a9fe": "an IPv6 address leading to 169.254.169.254, the cloud metadata address",
    "64:ff9b:1::a00:1": "a local-use NAT64 address",
    "::a00:1": "an IPv6 address leading to 10.0.0.1, a private address",  # IPv4-compatible (deprecated)
    "::ffff:10.0.0.1": "a private address",
}
# Public IPv4 addresses reached through IPv6 stay reachable (a DNS64 network hands out 64:ff9b:: addresses).
ACCEPTED = ["2002:808:808::1", "64:ff9b::808:808", "::ffff:8.8.8.8", "2606:4700:4700::1111"]


@pytest.mark.parametrize(("address", "why"), REFUSED.items())
def test_addresses_that_lead_somewhere_private_are_refused(address: str, why: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        ExportUrlPolicy().check_address("exports.example", address)
    assert f"it resolves to {address}, {why}." in str(refused.value)


@pytest.mark.parametrize("address", ACCEPTED)
def test_public_addresses_reached_through_ipv6_are_accepted(address: str) -> None:
    ExportUrlPolicy().check_address("exports.example", address)


@pytest.mark.anyio
@pytest.mark.parametrize("address", ["2002:a00:1::", "fec0::1", "64:ff9b::a9fe:a9fe"])
async def test_read_session_export_refuses_them_before_connecting(settings: Settings, address: str) -> None:
    async with connect(settings) as client:
        result = await client.call_tool("read_session_export", {"url": f"https://[{address}]/export.jsonl"})
    assert result.is_error
    assert f"Refused to fetch from [{address}]: it is " in text_of(result) or (
        f"Refused to fetch from {address}: it is " in text_of(result)
    ), text_of(result)
