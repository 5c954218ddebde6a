"""Where a benchmark's graph is on the published asv site, for the report's links.

The site's URL is configured (``--site-url``, ``site-url`` in ``[tool.perfguard]``), never
guessed: ``auto`` opts in to the GitHub Pages address of the repository the workflow runs for
(:func:`perfguard.actions.pages_site_url`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from perfguard.actions import pages_site_url
from perfguard.errors import ConfigError
from perfguard.models import Params

AUTO = "auto"
_SITE = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/-]*)?")
"""A plain http(s) URL: nothing that could end a markdown link or start HTML."""
_JS_SAFE = "-_.!~*'"
"""What JavaScript's encodeURIComponent leaves as is (asv's format_hash_string uses it), but
parentheses, which could end a markdown link; asv decodes either spelling."""


def site_url(setting: str | None, environ: Mapping[str, str]) -> str | None:
    """The site's base URL (ending in ``/``) for ``setting`` (a URL, ``auto`` or None)."""
    if setting is None or setting == "":
        return None
    if setting == AUTO:
        return pages_site_url(environ)
    if _SITE.fullmatch(setting) is None:
        raise ConfigError(
            f"the site URL {setting[:200]!r} must be 'auto' or a plain http(s) URL"
            " (letters, digits and ._~%/- in its path)"
        )
    return setting if setting.endswith("/") else setting + "/"


def graph_url(site: str, benchmark: str, params: Params) -> str:
    """asv's address of ``benchmark``'s graph with ``params`` selected:
    ``<site>#<benchmark>?p-<name>=<value>&...`` (asv.js parse_hash_string; the values are the
    reprs asv shows, as in benchmarks.json)."""
    url = f"{site}#{quote(benchmark, safe=_JS_SAFE)}"
    if params:
        url += "?" + "&".join(
            f"{quote('p-' + name, safe=_JS_SAFE)}={quote(value, safe=_JS_SAFE)}"
            for name, value in params
        )
    return url
