"""Renderers: :class:`perfguard.models.Comparison` -> str. No I/O here."""
