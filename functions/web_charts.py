"""The web view's inline SVG: time series with time axes, onset and threshold, trace waterfalls, the causal graph,
and the timeline of what changed before the onset. Every value goes through `esc`; every attribute is quoted."""

from __future__ import annotations

from functions.web_page import esc, ts
from shared.models import Finding, RankedCause, Widget
from shared.timefmt import clock_text


def _ticks(t0: float, t1: float, n: int = 4) -> list[float]:
    step = max(t1 - t0, 1e-9) / n
    return [t0 + i * step for i in range(n + 1)]


def timeseries_svg(widget: Widget, width: int = 520, height: int = 150, threshold: float | None = None) -> str:
    series = widget.data.get("series") or []
    points = [(float(t), float(v)) for s in series for t, v in s.get("points", [])]
    if not points:
        return "<p class=muted>no points</p>"
    t0, t1 = min(p[0] for p in points), max(p[0] for p in points)
    values = [p[1] for p in points] + ([threshold] if threshold is not None else [])
    v0, v1 = min(values), max(values)
    left, bottom = 50, height - 22
    sx = (width - left - 10) / max(t1 - t0, 1e-9)
    sy = (bottom - 8) / max(v1 - v0, 1e-9)

    def x(t: float) -> float:
        return left + (t - t0) * sx

    def y(v: float) -> float:
        return bottom - (v - v0) * sy

    lines = "".join(f"<polyline class='series' fill='none' stroke-width='1.5' points='"
                    f"{' '.join(f'{x(float(t)):.1f},{y(float(v)):.1f}' for t, v in s.get('points', []))}'>"
                    f"<title>{esc(s.get('name'))}</title></polyline>" for s in series)
    axis = (f"<line class='axis' x1='{left}' x2='{width - 10}' y1='{bottom}' y2='{bottom}' />"
            f"<line class='axis' x1='{left}' x2='{left}' y1='6' y2='{bottom}' />"
            + "".join(f"<text x='{x(t):.1f}' y='{height - 6}' font-size='10' text-anchor='"
                      f"{'end' if i == 4 else 'middle'}'>{esc(clock_text(t))}</text>"
                      for i, t in enumerate(_ticks(t0, t1)))
            + f"<text x='2' y='14' font-size='10'>{esc(f'{v1:.4g}')}</text>"
              f"<text x='2' y='{bottom}' font-size='10'>{esc(f'{v0:.4g}')}</text>")
    marks = ""
    onset = widget.data.get("onset")
    if isinstance(onset, (int, float)) and t0 <= onset <= t1:
        marks += (f"<line class='onset' x1='{x(onset):.1f}' x2='{x(onset):.1f}' y1='6' y2='{bottom}' "
                  f"stroke-dasharray='4 3' /><text class='onset-label' x='{x(onset) + 3:.1f}' y='14' "
                  f"font-size='10'>onset</text>")
    if threshold is not None:
        marks += (f"<line class='threshold' x1='{left}' x2='{width - 10}' y1='{y(threshold):.1f}' "
                  f"y2='{y(threshold):.1f}' stroke-dasharray='2 2' /><text class='onset-label' x='{width - 60}' "
                  f"y='{y(threshold) - 3:.1f}' font-size='10'>threshold</text>")
    return (f"<svg class='chart' role='img' aria-label='{esc(widget.title)} (UTC)' width='{width}' "
            f"height='{height}' xmlns='http://www.w3.org/2000/svg'>{axis}{lines}{marks}</svg>")


def waterfall_svg(widget: Widget, width: int = 620) -> str:
    spans = widget.data.get("spans") or []
    if not spans:
        return "<p class=muted>no spans</p>"
    end = max(float(s["start_ms"]) + float(s["duration_ms"]) for s in spans) or 1.0
    scale = (width - 230) / end
    rows = []
    for i, s in enumerate(spans):
        y = 4 + i * 16
        x = 225 + float(s["start_ms"]) * scale
        w = max(1.0, float(s["duration_ms"]) * scale)
        colour = "#cf222e" if s.get("error") else "#1f883d"
        rows.append(f"<text x='{2 + 8 * int(s.get('depth', 0))}' y='{y + 11}' font-size='10'>"
                    f"{esc(str(s.get('service'))[:18])} {esc(str(s.get('name'))[:16])}<title>"
                    f"{esc(s.get('service'))} {esc(s.get('name'))}</title></text>"
                    f"<rect x='{x:.1f}' y='{y}' width='{w:.1f}' height='12' fill='{colour}'><title>"
                    f"{esc(s.get('duration_ms'))} ms</title></rect>")
    return (f"<svg class='waterfall' width='{width}' height='{8 + 16 * len(spans)}' "
            f"xmlns='http://www.w3.org/2000/svg'>{''.join(rows)}</svg>")


TIME_COLUMNS = ("at", "time", "timestamp", "onset", "started_at")


def cell(column: str, value: object) -> object:
    """A table cell as people read it: a time column (UNIX seconds) as a UTC date and time, never a raw epoch."""
    if column in TIME_COLUMNS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return ts(float(value))
    return value


def widget_html(widget: Widget | None, threshold: float | None = None) -> str:
    if widget is None:
        return ""
    if widget.kind == "timeseries":
        return timeseries_svg(widget, threshold=threshold)
    if widget.kind == "waterfall":
        return waterfall_svg(widget)
    rows = widget.data.get("rows") or []
    if widget.kind == "pattern_table":
        body = "".join(f"<tr><td><code>{esc(r.get('pattern'))}</code></td><td>{esc(r.get('count'))}</td>"
                       f"<td>{esc(r.get('baseline_count'))}</td><td>"
                       + "".join(f"<pre>{esc(x)}</pre>" for x in r.get("exemplars", [])) + "</td></tr>" for r in rows)
        return ("<table class=patterns><tr><th>pattern</th><th>count</th><th>baseline</th><th>exemplars</th></tr>"
                f"{body}</table>")
    body = "".join("<tr>" + "".join(f"<td>{esc(cell(k, v))}</td>" for k, v in r.items()) + "</tr>" for r in rows)
    return f"<table>{body}</table>"


def causal_graph_svg(cause: RankedCause, width: int = 900) -> str:
    """One box per step of the chain (cause -> ... -> impact), its role and service as text inside it."""
    steps = cause.chain
    box, gap = 190, 30
    nodes = []
    for i, step in enumerate(steps):
        x = 10 + i * (box + gap)
        inner = cause.inner[0] if step.role == "cause" and cause.inner else None
        nodes.append(f"<g class='node {step.role}{' inner' if inner else ''}'>"
                     f"<rect x='{x}' y='10' width='{box}' height='54' rx='6' />"
                     f"<text x='{x + 8}' y='28' font-size='11' font-weight='600'>{esc(step.role)}</text>"
                     f"<text x='{x + 8}' y='46' font-size='11'>{esc(step.service[:28])}</text>"
                     + (f"<text class='inner' x='{x + 8}' y='60' font-size='10'>inside: "
                        f"{esc(inner.name[:24])}<title>{esc(inner.name)}</title></text>" if inner else "") + "</g>")
        if i:
            nodes.append(f"<line class='link' x1='{x - gap}' y1='37' x2='{x - 4}' y2='37' "
                         "marker-end='url(#arrow)' />")
    defs = ("<defs><marker id='arrow' markerWidth='8' markerHeight='8' refX='6' refY='3' orient='auto'>"
            "<path class='arrowhead' d='M0,0 L6,3 L0,6 z' /></marker></defs>")
    return (f"<svg class='causal-graph' width='{min(width, 20 + len(steps) * (box + gap))}' height='74' "
            f"xmlns='http://www.w3.org/2000/svg'>{defs}{''.join(nodes)}</svg>")


def changes_svg(changes: list[Finding], start: float, onset: float, alert: float | None, width: int = 700) -> str:
    """What changed before the onset: each change a tick on a time axis from `start`, beside the onset and the
    alert's start, labelled with its kind and service."""
    end = max([onset, *([alert] if alert is not None else []), *(c.onset or start for c in changes)]) + 60
    left, right, height = 10, width - 10, 70 + 14 * max(len(changes) - 1, 0)
    scale = (right - left) / max(end - start, 1e-9)

    def x(t: float) -> float:
        return left + (max(t, start) - start) * scale

    out = [f"<line class='axis' x1='{left}' x2='{right}' y1='30' y2='30' />"]
    ticks = _ticks(start, end, 3)
    out += [f"<text x='{x(t):.1f}' y='{height - 4}' font-size='10' text-anchor='"
            f"{'start' if i == 0 else 'end' if i == len(ticks) - 1 else 'middle'}'>{esc(clock_text(t))}</text>"
            for i, t in enumerate(ticks)]
    out.append(f"<line class='onset' x1='{x(onset):.1f}' x2='{x(onset):.1f}' y1='8' y2='{height - 16}' "
               f"stroke-dasharray='4 3' /><text class='onset-label' x='{x(onset) - 3:.1f}' y='10' font-size='10' "
               f"text-anchor='end'>onset {esc(clock_text(onset))}</text>")
    if alert is not None and abs(alert - onset) > 1:
        out.append(f"<line class='threshold' x1='{x(alert):.1f}' x2='{x(alert):.1f}' y1='20' y2='{height - 16}' />"
                   f"<text class='onset-label' x='{x(alert) + 3:.1f}' y='22' font-size='10'>alert</text>")
    for i, c in enumerate(changes):
        cx = x(c.onset or start)
        kind = c.kind.removeprefix("change.")
        anchor = "end" if cx > width / 2 else "start"
        out.append(f"<circle class='deploy' cx='{cx:.1f}' cy='30' r='5'><title>{esc(c.title)}</title></circle>"
                   f"<text x='{cx + (-7 if anchor == 'end' else 7):.1f}' y='{46 + 14 * i}' font-size='11' "
                   f"text-anchor='{anchor}'>{esc(kind)} {esc(c.service)} {esc(clock_text(c.onset or start))}"
                   "</text>")
    return (f"<svg class='changes' role='img' aria-label='changes before the onset (UTC)' width='{width}' "
            f"height='{height}' xmlns='http://www.w3.org/2000/svg'>{''.join(out)}</svg>")
