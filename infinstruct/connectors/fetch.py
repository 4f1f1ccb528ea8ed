"""http(s) sources and feeds: download safely, and load feeds into news corpora.

``load_feed`` is what the alerts scheduler calls (through ``services``): an RSS/Atom URL,
a feed file, or a drop folder of feed/news files becomes news documents of one corpus,
idempotently (already-seen guids add nothing).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from infinstruct.core.errors import ConnectorError, LimitError
from infinstruct.core.settings import Settings
from infinstruct.core.urls import check_public_url

log = logging.getLogger(__name__)


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


MAX_REDIRECTS = 5


def fetch_to_cache(settings: Settings, url: str) -> Path:
    """Download ``url`` into ``<data_dir>/cache/downloads`` (streamed, size-limited).

    Redirects are followed by hand (at most ``MAX_REDIRECTS``) so that each target passes
    :func:`check_public_url` before it is requested.
    """
    import httpx

    limit = settings.ingest.max_file_mb * 1024 * 1024
    suffix = Path(urlparse(url).path).suffix or ".xml"
    target = settings.cache_dir / "downloads" / (hashlib.sha256(url.encode()).hexdigest()[:16] + suffix)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    try:
        with _open_public(settings, url) as response:
            response.raise_for_status()
            size = 0
            with partial.open("wb") as out:
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise LimitError(
                            f"{url} is larger than ingest.max_file_mb={settings.ingest.max_file_mb} MiB; "
                            "raise the limit or download it yourself"
                        )
                    out.write(chunk)
    except httpx.HTTPError as exc:
        partial.unlink(missing_ok=True)
        raise ConnectorError(
            f"cannot fetch {url}: {exc.__class__.__name__}: {exc}; check the URL and network"
        ) from exc
    except LimitError:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    return target


@contextmanager
def _open_public(settings: Settings, url: str) -> Iterator[Any]:
    """An open streaming response for ``url``, every hop checked by ``check_public_url``."""
    import httpx

    with httpx.Client(
        timeout=settings.ingest.http_timeout_s, headers={"User-Agent": "infinstruct"}
    ) as client:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            check_public_url(settings, current)
            with client.stream("GET", current, follow_redirects=False) as response:
                if not response.is_redirect:
                    yield response
                    return
                current = str(response.url.join(response.headers["location"]))
        raise ConnectorError(f"{url} redirects more than {MAX_REDIRECTS} times; give the final URL")


def load_feed(
    settings: Settings,
    source: str | Path,
    *,
    corpus: str,
    domain: str = "finance",
    show_progress: bool = False,
) -> dict[str, Any]:
    """Load an RSS/Atom URL or file, or every feed/news file of a drop folder, into ``corpus``.

    Returns ``{"corpus", "loaded", "duplicates", "quarantined", "reports": [...]}``; each
    file is its own version, so a re-poll of an unchanged feed adds nothing.
    """
    from infinstruct.connectors.ingest import ingest

    paths: list[str | Path]
    if not is_url(str(source)) and Path(source).is_dir():
        paths = sorted(p for p in Path(source).iterdir() if p.is_file() and not p.name.startswith("."))
    else:
        paths = [source]
    reports = []
    for item in paths:
        connector = None if Path(str(item)).suffix.lower() in (".csv", ".jsonl") else "feed"
        reports.append(
            ingest(
                settings, item, connector=connector, corpus=corpus, domain=domain, show_progress=show_progress
            )
        )
    return {
        "corpus": corpus,
        "loaded": sum(r["loaded"] for r in reports),
        "duplicates": sum(r["duplicates"] for r in reports),
        "quarantined": sum(r["quarantined"] for r in reports),
        "reports": reports,
    }
