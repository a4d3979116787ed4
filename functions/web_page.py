"""The web view's page shell: the stylesheet (light and dark, following the system setting), escaping, times.

Everything that comes from telemetry is attacker-controlled (a log line can say anything): every value goes
through `esc` on its way into HTML, including SVG text and attributes."""

from __future__ import annotations

import html

from shared.timefmt import utc_text

CSS = """
:root{color-scheme:light dark;--fg:#1f2328;--bg:#f6f8fa;--card:#fff;--line:#d0d7de;--soft:#eaeef2;--muted:#59636e;
--accent:#0969da;--bad:#cf222e;--good:#1a7f37;--warn:#9a6700;--bad-bg:#ffebe9;--good-bg:#dafbe1;--warn-bg:#fff8c5;
--info-bg:#ddf4ff;--head:#24292f}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--card:#161b22;--line:#30363d;--soft:#21262d;
--muted:#9198a1;--accent:#4493f8;--bad:#f85149;--good:#3fb950;--warn:#d29922;--bad-bg:#3c1618;--good-bg:#12361f;
--warn-bg:#3a2d00;--info-bg:#0c2d4a;--head:#010409}}
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:var(--fg);background:var(--bg)}
a{color:var(--accent)}header{background:var(--head);color:#fff;padding:8px 24px}
header a{color:#fff;text-decoration:none;font-weight:600}
main{max-width:1280px;margin:0 auto;padding:8px 24px}section{background:var(--card);border:1px solid var(--line);
border-radius:6px;padding:8px 14px;margin:10px 0}table{border-collapse:collapse;width:100%}
h1{font-size:20px;margin:6px 0 2px}h2{font-size:16px;margin:4px 0}h3{font-size:14px;margin:6px 0 2px}
td,th{border-bottom:1px solid var(--soft);padding:4px 8px;text-align:left;vertical-align:top}
.muted{color:var(--muted)}.pill{border-radius:10px;padding:1px 8px;background:var(--soft);font-size:12px}
.open{background:var(--bad-bg)}.resolved{background:var(--good-bg)}
code,pre{font:12px ui-monospace,monospace;white-space:pre-wrap;overflow-wrap:anywhere}
button,.approval-link{display:inline-block;font:inherit;padding:6px 14px;margin-right:8px;border-radius:6px;
border:1px solid var(--line);text-decoration:none;cursor:pointer}
.approve,.approval-link{background:var(--good);color:#fff;border-color:var(--good)}.deny{background:var(--bad);color:#fff}
.step{margin-left:12px}
.banner{border-radius:6px;padding:6px 12px;margin:8px 0;border:1px solid var(--line)}
.banner.partial{background:var(--bad-bg);border-color:var(--bad)}.banner.warning{background:var(--warn-bg)}
.banner.notes{background:var(--info-bg)}.banner ul{margin:2px 0;padding-left:20px}
.meta{margin:0 0 4px}.first{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:12px;align-items:start}
.first section{margin:4px 0}.big{font-size:18px;font-weight:600}.conf{font-size:18px;font-weight:600;color:var(--bad)}
.title{display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden;margin:2px 0}
ol.evidence{margin:4px 0;padding-left:20px}ol.evidence li{margin:2px 0}
ul.runbooks{margin:2px 0 0;padding-left:20px}ul.runbooks details{display:inline}
.clip{display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden}
.action{border-top:1px solid var(--soft);padding:6px 0}.action:first-of-type{border-top:0}
.state{font-weight:600}.state.allowed{color:var(--good)}.state.refused{color:var(--bad)}.state.done{color:var(--muted)}
svg text{fill:var(--fg)}svg .axis{stroke:var(--muted)}svg .series{stroke:var(--accent)}
svg .onset,svg .threshold{stroke:var(--bad)}svg text.onset-label{fill:var(--bad)}
svg .deploy{fill:var(--accent)}svg .node rect{stroke:var(--muted)}svg .node.cause rect{fill:var(--bad-bg)}
svg .node.propagation rect{fill:var(--warn-bg)}svg .node.symptom rect{fill:var(--info-bg)}
svg .node.impact rect{fill:var(--soft)}svg .node.cause.inner rect{stroke:var(--bad);stroke-width:2}
svg .link{stroke:var(--muted)}svg .arrowhead{fill:var(--muted)}
.on-it{display:flex;flex-wrap:wrap;gap:12px;align-items:center;margin:2px 0 6px}.on-it form{margin:0}
button.ack{background:var(--accent);color:#fff;border-color:var(--accent)}
form.filters{display:flex;flex-wrap:wrap;gap:8px;align-items:end;margin:4px 0}form.filters label{display:flex;
flex-direction:column;font-size:12px;color:var(--muted)}form.filters input,form.filters select{font:inherit;
padding:3px 6px;border:1px solid var(--line);border-radius:6px;background:var(--card);color:var(--fg)}
"""


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


ts = utc_text


def page(title: str, body: str, refresh_s: int = 0) -> str:
    """`refresh_s` > 0: the browser reloads the page that often (a meta refresh: no script, so the CSP holds)."""
    refresh = f"<meta http-equiv=refresh content='{int(refresh_s)}'>" if refresh_s > 0 else ""
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{esc(title)}</title>{refresh}"
            f"<meta name=viewport content='width=device-width'><meta name=color-scheme content='light dark'>"
            f"<style>{CSS}</style></head><body><header><a href='/'>Auto SRE</a></header><main>{body}</main>"
            "</body></html>")
