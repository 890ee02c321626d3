"""The inline style sheet of the HTML report (system fonts only; prints on A4 or Letter)."""

from __future__ import annotations

CSS = """
:root { --ink: #1d2327; --muted: #5f6b73; --rule: #d5dbe0; --band: #f4f6f8; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1260px; padding: 24px 28px 60px; color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  "Noto Sans", "PingFang SC", "Microsoft YaHei", sans-serif; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 30px 0 8px; padding-bottom: 4px;
  border-bottom: 2px solid var(--rule); }
p.sub, p.note, figcaption { color: var(--muted); }
p.note, figcaption { font-size: 12.5px; margin: 6px 0 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 12px 0; }
dt { font-weight: 600; }
dd { margin: 0; }
dl.headline { background: var(--band); border-left: 4px solid #0072B2; padding: 12px 16px; }
dl.headline dd { font-variant-numeric: tabular-nums; font-weight: 600; }
nav ol { columns: 2; margin: 0; padding-left: 22px; }
nav a { color: #0b5394; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 9px; border-bottom: 1px solid var(--rule); text-align: left;
  vertical-align: top; white-space: nowrap; }
td.wrap { white-space: normal; min-width: 16em; }
th { background: var(--band); font-weight: 600; white-space: normal; vertical-align: bottom; }
tbody tr:nth-child(even) td { background: #fafbfc; }
td.num, th.num { text-align: right; }
td.st { text-align: center; font-weight: 600; }
td.st-CR { background: #cfe3f3 !important; }
td.st-PR { background: #e3f1fb !important; }
td.st-HI { background: #d5eee6 !important; }
td.st-NR { background: #f8dccb !important; }
td.st-NE { background: #ececec !important; }
figure { margin: 0; }
figure svg { width: 100%; max-width: 1100px; height: auto; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  nav { display: none; }
  section { break-inside: avoid; }
  .scroll { overflow: visible; }
}
"""
