"""exporter/address.py: the one address parser of every kind (issue 16: IPv6 literals)."""

from __future__ import annotations

import pytest

from exporter import hyperv_source, ontap_source, vsphere_source
from exporter.address import parse_address
from exporter.config import validate_address


@pytest.mark.parametrize(("value", "scheme", "host", "port", "origin"), [
    ("c1", "https", "c1", 443, "https://c1:443"),
    ("c1:8443", "https", "c1", 8443, "https://c1:8443"),
    ("[::1]:18441", "https", "::1", 18441, "https://[::1]:18441"),
    ("https://[::1]:18441", "https", "::1", 18441, "https://[::1]:18441"),
    ("https://[fd00::5]", "https", "fd00::5", 443, "https://[fd00::5]:443"),
    ("fd00::5", "https", "fd00::5", 443, "https://[fd00::5]:443"),
    ("http://10.0.0.1:8080/", "http", "10.0.0.1", 8080, "http://10.0.0.1:8080"),
])
def test_parse(value: str, scheme: str, host: str, port: int, origin: str) -> None:
    parsed = parse_address(value, 443)
    assert (parsed.scheme, parsed.host, parsed.port, parsed.origin) == (scheme, host, port, origin)
    validate_address(value)


@pytest.mark.parametrize(("value", "why"), [
    ("ftp://c1", "scheme"), ("http://c1", "explicit port"), ("c1:0", "port"), ("c1:99999", "port"),
    ("[::1", "closing bracket"), ("[zz::1]:1", "IPv6"), ("c1/api", "path"), ("c 1", "host"),
    ("https://admin:Hunter2@c1", "credentials"), ("c1:", "port"),
])
def test_refused_without_echoing_the_value(value: str, why: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_address(value, 443)
    assert why in str(caught.value)
    assert "Hunter2" not in str(caught.value)


def test_every_source_uses_it_with_ipv6() -> None:
    assert ontap_source.split_address("[::1]:18441") == ("https", "::1", 18441)
    assert ontap_source.split_address("https://[::1]:18441") == ("https", "::1", 18441)
    assert hyperv_source.endpoint("[::1]:5986") == "https://[::1]:5986/wsman"
    assert hyperv_source.endpoint("http://[::1]:5985") == "http://[::1]:5985/wsman"
    assert vsphere_source.split_address("https://[::1]:8443/sdk") == ("::1", 8443)
