"""The SSRF rule: which URLs the server may fetch (sources, feeds, redirects).

It lives in the platform layer because both the connectors (``connectors.fetch``, every
hop of a download) and the operator console's source check (``core.uploads``) apply it.
"""

from __future__ import annotations

from urllib.parse import urlparse

from infinstruct.core.errors import ConnectorError
from infinstruct.core.settings import Settings


def refused_address(address: str) -> str | None:
    """Why ``address`` (an IP) must not be fetched from, or ``None`` when it is public."""
    import ipaddress

    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, hit in (
        ("loopback", ip.is_loopback),
        ("link-local (cloud metadata)", ip.is_link_local),
        ("private", ip.is_private),
        ("unspecified", ip.is_unspecified),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved or not ip.is_global),
    ):
        if hit:
            return kind
    return None


def check_public_url(settings: Settings, url: str) -> str:
    """``url`` when every address its host resolves to is public; else a ``ConnectorError``.

    The SSRF rule: a URL source or feed may not reach loopback, private, link-local
    (169.254.169.254, the cloud metadata service) or other non-global addresses, unless
    ``ingest.allow_private_urls`` says the intranet is meant. ``fetch_to_cache`` applies it
    to the first URL and again to every redirect target.
    """
    import socket

    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectorError(f"{url!r} is not an http(s) URL with a host; give an http:// or https:// URL")
    if settings.ingest.allow_private_urls:
        return url
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConnectorError(f"cannot resolve {parts.hostname!r} in {url}: {exc}; check the URL") from exc
    for info in infos:
        reason = refused_address(str(info[4][0]))
        if reason:
            raise ConnectorError(
                f"refusing to fetch {url}: {parts.hostname} resolves to {info[4][0]}, a {reason} "
                "address; set ingest.allow_private_urls=true only for a trusted intranet feed"
            )
    return url
