"""Allow ``python -m perfguard``."""

from perfguard.cli import main

if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess test
    main()
