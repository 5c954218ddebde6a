"""Whether a comment body fits GitHub's limit: the one place that counts it.

GitHub documents the limit (65 536) in characters but stores text in UTF-16 in places, where a
character outside the BMP (most emoji) takes two code units. Both counts are taken and the
larger one decides, so a body that fits here fits whichever way GitHub counts.
"""

from __future__ import annotations

GITHUB_COMMENT_LIMIT = 65_536
"""GitHub refuses a longer comment body with 422."""

PICTURE_START = "<!-- perfguard:picture -->\n"
PICTURE_END = "<!-- /perfguard:picture -->\n"
"""Around each picture of a report (:mod:`perfguard.report.pictures`): what is dropped first.
Project text cannot forge them (the report escapes ``<``)."""
PICTURES_DROPPED_NOTE = "\n_({count} per-round pictures left out to fit the comment limit)_\n"

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
    """``body`` itself when it fits; else without its pictures, the last first, with a note;
    else cut at a line end with a note, so that it fits."""
    if fits_comment(body, limit):
        return body
    body = _drop_pictures(body, limit)
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


def _drop_pictures(body: str, limit: int) -> str:
    """``body`` without as few of its last pictures as make it fit (all when none do), with a
    note of how many were left out when that fits too; ``body`` itself when it has none."""
    spans = []
    start = body.find(PICTURE_START)
    while start >= 0:
        end = body.find(PICTURE_END, start)
        if end < 0:
            break
        spans.append((start, end + len(PICTURE_END)))
        start = body.find(PICTURE_START, end)
    for dropped in range(1, len(spans) + 1):
        pieces, previous = [], 0
        for start, end in spans[len(spans) - dropped :]:
            pieces.append(body[previous:start])
            previous = end
        pieces.append(body[previous:])
        trimmed = "".join(pieces)
        noted = trimmed + PICTURES_DROPPED_NOTE.format(count=dropped)
        if fits_comment(noted, limit):
            return noted
        if dropped == len(spans):  # the note only where it fits: never at a row's expense
            return trimmed
    return body
