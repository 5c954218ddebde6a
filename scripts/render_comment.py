#!/usr/bin/env python3
"""Render a perfguard markdown report (the PR comment body) to a PNG the way a reader sees it:
markdown to HTML with markdown-it-py (tables and inline HTML, as GitHub allows them), opened
in headless Chromium, every ``<details>`` open, the Mermaid pictures drawn.

Why: a screenshot of a comment for a note or a review, without posting it. GitHub draws
```` ```mermaid ```` blocks with Mermaid; this does the same with Mermaid's browser bundle from
tools/node_modules (scripts/install-system-deps installs it). Without it the blocks stay as
their source and a note says so. Prints how many charts were drawn.

Usage: scripts/render_comment.py REPORT.md OUT.png [--width 1000] [--chromium /usr/bin/chromium]
Exit 0 rendered, 2 bad input (no report, markdown-it-py or playwright missing, a chart that
Mermaid refuses).
"""

from __future__ import annotations

import argparse
import html
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it.token import Token
    from markdown_it.utils import EnvType, OptionsDict

ROOT = Path(__file__).resolve().parents[1]
MERMAID = ROOT / "tools/node_modules/mermaid/dist/mermaid.min.js"
STYLE = """
body { font: 14px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328;
       margin: 16px; max-width: %dpx; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #d1d9e0; padding: 4px 10px; }
tr:nth-child(2n) { background: #f6f8fa; }
code { background: #eff1f3; padding: 1px 4px; border-radius: 4px; font-size: 85%%; }
pre { background: #f6f8fa; padding: 12px; overflow: auto; }
pre.mermaid { background: none; }
details { margin: 8px 0; } summary { cursor: pointer; }
blockquote { border-left: 4px solid #d1d9e0; margin: 0; padding: 0 12px; color: #59636e; }
"""


def to_html(markdown: str, width: int) -> tuple[str, int]:
    """The page, and how many Mermaid blocks it has."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    default_fence = md.renderer.rules["fence"]
    charts = 0

    def fence(tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        nonlocal charts
        token = tokens[idx]
        if token.info.strip() == "mermaid":
            charts += 1
            return f'<pre class="mermaid">{html.escape(token.content)}</pre>\n'
        return default_fence(tokens, idx, options, env)

    md.renderer.rules["fence"] = fence
    body = md.render(markdown).replace("<details>", "<details open>")
    script = ""
    if MERMAID.is_file():
        # before the page loads: Mermaid would otherwise start drawing on its own
        script = (
            f'<script src="{MERMAID.as_uri()}"></script><script>mermaid.initialize('
            "{startOnLoad: false, securityLevel: 'strict'});</script>"
        )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><style>{STYLE % width}</style>"
        f"{script}</head><body>{body}</body></html>"
    )
    return page, charts


DRAW = """async () => {
    if (typeof mermaid === 'undefined') return -1;
    await mermaid.run({querySelector: 'pre.mermaid', suppressErrors: false});
    return document.querySelectorAll('pre.mermaid svg').length;
}"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="render_comment.py", description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    try:
        markdown = args.report.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"error: cannot read {args.report}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        page, charts = to_html(markdown, args.width)
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:
        print(f"error: {exc.name} is needed (pip install -e '.[test]')", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="render-comment-") as tmp:
        path = Path(tmp) / "comment.html"
        path.write_text(page, encoding="utf-8")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=args.chromium, headless=True, args=["--no-sandbox"]
            )
            try:
                tab = browser.new_page(viewport={"width": args.width + 32, "height": 600})
                tab.goto(path.as_uri(), wait_until="load")
                try:
                    drawn = tab.evaluate(DRAW) if charts else 0
                except Error as exc:
                    print(f"error: Mermaid refused a chart: {exc.message}", file=sys.stderr)
                    return 2
                args.out.parent.mkdir(parents=True, exist_ok=True)
                tab.screenshot(path=str(args.out), full_page=True)
            finally:
                browser.close()
    if drawn < 0:
        print(
            f"note: {MERMAID.relative_to(ROOT)} is not installed (npm ci in tools/): charts"
            " shown as their source"
        )
        drawn = 0
    print(f"{args.out}: {drawn} of {charts} charts drawn")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
