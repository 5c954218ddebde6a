"""The local GitHub double of tests/github, for the action's comment step."""

from tests.github.conftest import github

__all__ = ["github"]
