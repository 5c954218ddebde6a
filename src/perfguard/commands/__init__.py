"""One module per CLI command; each exposes a typed function returning an exit code."""
