"""Whether a comment body fits GitHub's limit: the one place that counts it.

GitHub documents the limit (65 536) in characters but stores text in UTF-16 in places, where a
character outside the BMP (most emoji) takes two code units. Both counts are taken and the
larger one decides, so a body that fits here fits whichever way GitHub counts.
"""

from __future__ import annotations

GITHUB_COMMENT_LIMIT = 65_536
"""GitHub refuses a longer comment body with 422."""

TRUNCATION_NOTE = (
    "\n\n_(report truncated to fit GitHub's comment limit;"
    " the full report is in the run's artifact)_\n"
)


def comment_size(text: str) -> int:
    """The larger of ``len(text)`` and its length in UTF-16 code units (astral chars count 2)."""
    if text.isascii():
        return len(text)
    return max(len(text), len(text.encode("utf-16-le", "surrogatepass")) // 2)


def fits_comment(body: str, limit: int = GITHUB_COMMENT_LIMIT) -> bool:
    """True when GitHub accepts ``body`` as a comment, counted conservatively."""
    return comment_size(body) <= limit


def fit_comment_body(body: str, limit: int = GITHUB_COMMENT_LIMIT) -> str:
    """``body`` itself when it fits, else cut at a line end with a note, so that it fits."""
    if fits_comment(body, limit):
        return body
    room = limit - comment_size(TRUNCATION_NOTE)
    cut = body[:room]
    # Each character is one or two units: dropping the excess in characters always fits.
    cut = cut[: len(cut) - max(0, comment_size(cut) - room)]
    newline = cut.rfind("\n")
    if newline > 0:
        cut = cut[:newline]
    return cut + TRUNCATION_NOTE
