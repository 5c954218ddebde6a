"""perfguard: a performance-regression gate for projects that benchmark with asv."""

__version__ = "0.1.0"
