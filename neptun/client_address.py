"""The client's address: the one function every throttle, log line and deletion
record asks.

By default the client is the peer of the connection (``REMOTE_ADDR``) and nothing
the client sends changes that: ``X-Forwarded-For``, ``X-Real-IP``, ``Forwarded``
and the like are written by whoever sends the request, so trusting them would let
anyone pick a fresh address for every guessed password, or lock someone else out
by naming that person's address.

Behind a reverse proxy every request's peer is the proxy. Then the operator names
the proxy, and the address is taken from the hops **that proxy added** to
``X-Forwarded-For`` (the only forwarding header honoured; ``X-Real-IP`` and
``Forwarded`` are always ignored). A proxy appends the address of its own peer to
the right of whatever the client sent, so the list is read from the right:

``TRUSTED_PROXIES`` (addresses or CIDR networks, e.g. ``10.0.0.0/8,127.0.0.1``)
    Only when the peer is one of them is ``X-Forwarded-For`` read at all. Walking
    from the right, every hop that is itself a trusted proxy is skipped; the first
    one that is not is the client. Whatever lies left of it was sent by the client
    and is ignored. If that hop is not an IP address (garbage can only come from
    the client), the nearest trusted proxy's address is used.
``TRUSTED_PROXY_COUNT`` (a number of proxies, e.g. ``1``)
    For proxies whose address is not fixed (or a proxy on a Unix socket, whose
    peer has no address): the client is the hop that many places from the right.
    With fewer hops than proxies the request did not come through all of them
    and the peer's address is used (so too when that hop is not an address).
    Every request must pass through the proxies: a client that can reach the
    server directly can send a forged hop.

Both are off by default; setting both is refused at start-up (one way to say
which hops are the proxy's is enough). Addresses are returned normalized
(``::ffff:192.0.2.1`` is ``192.0.2.1``); ``None`` when there is none usable.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_address(value: str | None) -> IPAddress | None:
    """An address written by a server or proxy (``[::1]:8080`` and ``192.0.2.1:80``
    are accepted with their port), or ``None`` when it is not one."""
    if not value:
        return None
    text = value.strip()
    if text.startswith("["):  # [v6] or [v6]:port
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """``TRUSTED_PROXIES`` as networks; a bad entry raises ``ValueError``."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry)


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return parse_networks(entries)


def _trusted(address: IPAddress | None, networks: tuple[IPNetwork, ...]) -> bool:
    return address is not None and any(address in network for network in networks)


def _hops(meta: Mapping[str, Any]) -> list[str]:
    """``X-Forwarded-For`` entries, left to right (repeated headers are joined)."""
    value = meta.get("HTTP_X_FORWARDED_FOR") or ""
    return [hop.strip() for hop in str(value).split(",")]


def client_address(request: Any) -> str | None:
    """The client's address of an HTTP request (Django's or DRF's, or anything with
    a ``META`` mapping); see the module docstring for the rules."""
    meta: Mapping[str, Any] = request.META
    peer = parse_address(meta.get("REMOTE_ADDR"))
    proxies = tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ())
    count = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    if proxies:
        networks = _networks(proxies)
        if not _trusted(peer, networks) or not meta.get("HTTP_X_FORWARDED_FOR"):
            return _text(peer)
        nearest = peer
        for hop in reversed(_hops(meta)):
            address = parse_address(hop)
            if address is None:
                return _text(nearest)
            if not _trusted(address, networks):
                return _text(address)
            nearest = address
        return _text(nearest)  # every hop is a proxy: the farthest one
    if count > 0:
        hops = _hops(meta) if meta.get("HTTP_X_FORWARDED_FOR") else []
        if len(hops) < count:
            return _text(peer)
        return _text(parse_address(hops[-count]) or peer)
    return _text(peer)


def _text(address: IPAddress | None) -> str | None:
    return None if address is None else str(address)
