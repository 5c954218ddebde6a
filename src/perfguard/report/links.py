"""Where a benchmark's graph is on the published asv site, for the report's links.

The site's URL is configured (``--site-url``, ``site-url`` in ``[tool.perfguard]``), never
guessed: ``auto`` opts in to the GitHub Pages address of the repository the workflow runs for
(``GITHUB_REPOSITORY``), as a project site ``https://<owner>.github.io/<repo>/`` (or the user
site ``https://<owner>.github.io/`` of a ``<owner>.github.io`` repository).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from perfguard.errors import ConfigError
from perfguard.models import Params

AUTO = "auto"
_SITE = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/-]*)?")
"""A plain http(s) URL: nothing that could end a markdown link or start HTML."""
_REPOSITORY = re.compile(r"([A-Za-z0-9-]+)/([A-Za-z0-9._-]+)")
_JS_SAFE = "-_.!~*'"
"""What JavaScript's encodeURIComponent leaves as is (asv's format_hash_string uses it), but
parentheses, which could end a markdown link; asv decodes either spelling."""


def site_url(setting: str | None, environ: Mapping[str, str]) -> str | None:
    """The site's base URL (ending in ``/``) for ``setting`` (a URL, ``auto`` or None)."""
    if setting is None or setting == "":
        return None
    if setting == AUTO:
        repository = environ.get("GITHUB_REPOSITORY", "")
        found = _REPOSITORY.fullmatch(repository)
        if found is None:
            raise ConfigError(
                "--site-url auto needs GITHUB_REPOSITORY (owner/repo, set on GitHub Actions);"
                " pass the site's URL instead"
            )
        owner, repo = found[1].lower(), found[2]
        if repo.lower() == f"{owner}.github.io":
            return f"https://{owner}.github.io/"
        return f"https://{owner}.github.io/{repo}/"
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
