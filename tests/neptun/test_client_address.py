"""neptun.client_address: which address a request comes from."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from neptun.client_address import client_address, parse_address

PEER = "203.0.113.7"
PROXY = "10.0.0.2"


def request(remote_addr: str | None = PEER, **headers: str):
    meta = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    req = RequestFactory().get("/", **meta)
    if remote_addr is None:
        req.META.pop("REMOTE_ADDR", None)
    else:
        req.META["REMOTE_ADDR"] = remote_addr
    return req


FORGED = {
    "X-Forwarded-For": "192.0.2.1",
    "X-Real-IP": "192.0.2.2",
    "Forwarded": "for=192.0.2.3",
    "True-Client-IP": "192.0.2.4",
    "CF-Connecting-IP": "192.0.2.5",
}


def test_by_default_the_peer_whatever_the_headers_say():
    assert client_address(request(**FORGED)) == PEER
    assert client_address(request()) == PEER


@pytest.mark.parametrize("remote_addr", [None, "", "unix:/run/neptun.sock", "testclient"])
def test_a_peer_that_is_not_an_address_is_none(remote_addr):
    assert client_address(request(remote_addr, **FORGED)) is None


def test_addresses_are_normalized():
    assert client_address(request("::ffff:192.0.2.9")) == "192.0.2.9"
    assert client_address(request("2001:DB8:0:0::1")) == "2001:db8::1"


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("192.0.2.1", "192.0.2.1"),
        (" 192.0.2.1 ", "192.0.2.1"),
        ("192.0.2.1:8080", "192.0.2.1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("unknown", None),
        ("for=192.0.2.1", None),
        ("", None),
        ("999.0.0.1", None),
    ],
)
def test_parse_address(text, address):
    parsed = parse_address(text)
    assert (None if parsed is None else str(parsed)) == address


class TestTrustedProxies:
    @pytest.fixture(autouse=True)
    def _proxies(self, settings):
        settings.TRUSTED_PROXIES = ["10.0.0.0/24", "2001:db8:ffff::/48"]

    def test_the_hop_the_proxy_added_not_the_ones_before(self):
        req = request(PROXY, x_forwarded_for="1.1.1.1, 2.2.2.2, 198.51.100.9")
        assert client_address(req) == "198.51.100.9"

    def test_proxies_in_a_chain_are_skipped(self):
        req = request(PROXY, x_forwarded_for="1.1.1.1, 198.51.100.9, 10.0.0.7, 10.0.0.8")
        assert client_address(req) == "198.51.100.9"

    def test_repeated_headers_are_one_list(self):
        req = request(PROXY)
        req.META["HTTP_X_FORWARDED_FOR"] = "1.1.1.1,198.51.100.9"  # as Django joins them
        assert client_address(req) == "198.51.100.9"

    def test_only_x_forwarded_for_is_read(self):
        req = request(PROXY, x_real_ip="1.1.1.1", forwarded="for=2.2.2.2")
        assert client_address(req) == PROXY

    def test_a_peer_that_is_not_a_proxy_is_the_client(self):
        req = request(PEER, x_forwarded_for="198.51.100.9")
        assert client_address(req) == PEER

    def test_garbage_where_the_client_should_be_is_the_nearest_proxy(self):
        assert client_address(request(PROXY, x_forwarded_for="evil")) == PROXY
        req = request(PROXY, x_forwarded_for="198.51.100.9, junk, 10.0.0.7")
        assert client_address(req) == "10.0.0.7"

    def test_every_hop_a_proxy_is_the_farthest_proxy(self):
        assert client_address(request(PROXY, x_forwarded_for="10.0.0.5, 10.0.0.6")) == "10.0.0.5"

    def test_ipv6_proxies_and_clients(self):
        req = request("2001:db8:ffff::2", x_forwarded_for="[2001:db8:1::5]:5555")
        assert client_address(req) == "2001:db8:1::5"


class TestTrustedProxyCount:
    def test_the_hop_that_many_places_from_the_right(self, settings):
        settings.TRUSTED_PROXY_COUNT = 2
        req = request(PROXY, x_forwarded_for="1.1.1.1, 198.51.100.9, 10.9.9.9")
        assert client_address(req) == "198.51.100.9"

    def test_fewer_hops_than_proxies_is_the_peer(self, settings):
        settings.TRUSTED_PROXY_COUNT = 2
        assert client_address(request(PROXY, x_forwarded_for="198.51.100.9")) == PROXY
        assert client_address(request(PROXY)) == PROXY

    def test_a_peer_without_an_address_behind_a_unix_socket_proxy(self, settings):
        settings.TRUSTED_PROXY_COUNT = 1
        req = request(None, x_forwarded_for="1.1.1.1, 198.51.100.9")
        assert client_address(req) == "198.51.100.9"

    def test_garbage_in_the_proxys_hop_is_the_peer(self, settings):
        settings.TRUSTED_PROXY_COUNT = 1
        assert client_address(request(PROXY, x_forwarded_for="1.1.1.1, junk")) == PROXY
