"""Every command README.md tells a user to run is run by some test (tests/helpers/readme.py
says which blocks count and how a test claims a command)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import readme

SAMPLE = """# sample

```bash
pip install x            # a comment
perfguard compare a.json \\
          b.json --fail-on never
echo "# not a comment" 'a # b' x#y
```

```console
$ perfguard run --quick
measuring 2 benchmarks
```

`.github/workflows/perf.yml`:

```yaml
name: perf
on: pull_request
```

```
perfguard compare BASE HEAD [options]
```

```toml
[tool.perfguard]
```
"""


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "README.md"
    path.write_text(SAMPLE, encoding="utf-8")
    return path


def test_commands_are_logical_lines_without_comments(sample: Path) -> None:
    assert [(c.text, c.line) for c in readme.commands(sample)] == [
        ("pip install x", 4),
        ("perfguard compare a.json b.json --fail-on never", 5),
        ("echo \"# not a comment\" 'a # b' x#y", 7),
        ("perfguard run --quick", 11),
    ]


def test_yaml_synopsis_and_toml_blocks_hold_no_commands(sample: Path) -> None:
    languages = [b.language for b in readme.blocks(sample)]
    assert languages == ["bash", "console", "yaml", "", "toml"]
    assert readme.blocks(sample)[2].caption == "`.github/workflows/perf.yml`:"


def test_command_refuses_text_the_readme_does_not_have() -> None:
    gone, missing = "perfguard compare --no-such-option", "nope.yml"  # not literal: no claim
    with pytest.raises(AssertionError, match="no longer has the command"):
        readme.command(gone)
    with pytest.raises(AssertionError, match="no longer has the workflow"):
        readme.workflow(missing)


def test_claims_are_collected_from_literal_calls(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(
        "from tests.helpers import readme\n"
        "def test_a():\n    readme.run('perfguard run', cwd=None)\n"
        "def test_b():\n    readme.command('perfguard compare main HEAD')\n"
        "def test_c():\n    other.command('not a claim'); readme.command(name)\n",
        encoding="utf-8",
    )
    claimed = readme.claims(tmp_path)
    assert set(claimed) == {"perfguard run", "perfguard compare main HEAD"}


def test_every_readme_command_is_run_by_a_test() -> None:
    claimed = readme.claims()
    unclaimed = [
        f"README.md:{c.line}: {c.text}"
        for c in readme.commands()
        if c.text not in claimed and c.text not in readme.NOT_RUN
    ]
    assert unclaimed == [], "no test runs these README commands (claim them with readme.run)"


def test_every_readme_workflow_is_run_by_a_test() -> None:
    assert readme.workflows(), "the README's GitHub section has no copy-paste workflows"
    claimed = readme.claims()
    assert [name for name in readme.workflows() if name not in claimed] == []


def test_every_claim_and_exemption_names_something_the_readme_has() -> None:
    known = {c.text for c in readme.commands()} | set(readme.workflows())
    stale = {text: files for text, files in readme.claims().items() if text not in known}
    assert stale == {}, "tests claim README commands that are gone"
    assert [text for text in readme.NOT_RUN if text not in known] == []
    assert not set(readme.NOT_RUN) & set(readme.claims()), "claimed and exempt at once"
