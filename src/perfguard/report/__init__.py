"""Renderers: :class:`perfguard.models.Comparison` -> str. No I/O here."""


def sticky_marker(key: str = "default") -> str:
    """The hidden line that identifies perfguard's PR comment, so a later run updates it.

    ``key`` lets one PR carry several reports (e.g. one per benchmark suite).
    """
    return f"<!-- perfguard:sticky-comment key={key} -->"
