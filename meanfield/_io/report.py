"""A self-contained report of a run: `report.md` beside its figures and a one-file `report.html`.

A report is a list of sections; each section has a title, a paragraph, key numbers and figure files
(PNG, relative to the report folder). The Markdown links the figures; the HTML embeds them as data
URIs, so it can be mailed or archived as a single file.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

from .results import git_revision, versions, write_text


def _fmt(value) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        return f"{value:.4g}"
    if value is None:
        return "n/a"
    return str(value)


def write_report(folder, title: str, sections: list[dict], *, intro: str = "") -> list[str]:
    """Write `report.md` and `report.html` into `folder`; returns their file names.

    Each section is a dict with `title`, `text`, optional `numbers` (name -> value) and optional
    `figures` (PNG paths relative to `folder`).
    """
    folder = Path(folder)
    meta = {**versions(), "git_revision": git_revision()}
    md = [f"# {title}", ""]
    if intro:
        md += [intro, ""]
    body = [f"<h1>{html.escape(title)}</h1>"]
    if intro:
        body.append(f"<p>{html.escape(intro)}</p>")
    for sec in sections:
        md += [f"## {sec['title']}", "", sec.get("text", ""), ""]
        body.append(f"<h2>{html.escape(sec['title'])}</h2>")
        body.append(f"<p>{html.escape(sec.get('text', ''))}</p>")
        numbers = sec.get("numbers") or {}
        if numbers:
            md += ["| quantity | value |", "| --- | --- |"]
            md += [f"| {k} | {_fmt(v)} |" for k, v in numbers.items()]
            md.append("")
            rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(_fmt(v))}</td></tr>"
                           for k, v in numbers.items())
            body.append(f"<table><tr><th>quantity</th><th>value</th></tr>{rows}</table>")
        for fig in sec.get("figures", []):
            md += [f"![{fig}]({fig})", ""]
            path = folder / fig
            if path.is_file():
                data = base64.b64encode(path.read_bytes()).decode("ascii")
                body.append(f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(fig)}">'
                            f"<figcaption>{html.escape(fig)}</figcaption></figure>")
    md += ["---", "", "versions: `" + json.dumps(meta) + "`", ""]
    body.append(f"<hr><p><code>{html.escape(json.dumps(meta))}</code></p>")
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
             "img{max-width:100%}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")
    write_text(folder / "report.md", "\n".join(md))
    write_text(folder / "report.html", page)
    return ["report.md", "report.html"]
