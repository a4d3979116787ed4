"""Score the root-cause ranking on PetShop issues (metrics at 5-minute resolution and a call graph; no logs, no
traces) beside the three baselines the dataset's README names:

- `alerting node`: the node the alert is on, named as the cause;
- `robust z`: every node ranked by a robust z-score of the alert's metric (the incident's points against the
  baseline's median and MAD, in the metric's bad direction);
- `traversal`: the dataset authors' graph traversal, from the alerting node along its callees while they are
  anomalous (robust z above 3 on the alert's metric): the anomalous nodes with no anomalous callee, strongest
  first, then the rest by z.

A scenario without normal operation has no baseline: the baselines cannot rank there (n/a) and the product must
say its report is partial.

`--alert-delay S` fires the alert S seconds late (a policy that waits before it fires); `--alert-on cause` puts it
on the root cause itself (the alerting service is its own cause), `--alert-on callers` on each node that calls the
root cause, one alert each (the dataset names where its own alert is; these move it, the truth stays).

    autosre eval petshop [ROOT] [--split train] [--alert-delay S] [--alert-on target|cause|callers] [--json]
    (or python -m evaluation.petshop_eval)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from evaluation.datasets import datasets_dir
from evaluation.petshop_import import (
    ALERT_ON,
    IssueInfo,
    import_issue,
    issue_dirs,
    metric_of,
    read_graph,
    read_metrics,
    write_alert,
)
from functions.local import triage
from shared.telemetry.bundle import BundleSource

TRAVERSAL_Z = 3.0
CONFIDENT = 0.5  # a named cause with this confidence or more is "confident" (the calibration bar)


@dataclass
class IssueScore:
    name: str
    scenario: str
    truth: str
    has_baseline: bool
    ranked: list[str] = field(default_factory=list)
    confidence: float = 0.0  # of the top cause
    partial: bool = False
    exit_partial: bool = False
    baselines: dict[str, list[str]] = field(default_factory=dict)  # baseline name -> its ranking (empty: n/a)
    seconds: float = 0.0
    error: str = ""

    def rank(self, ranking: list[str]) -> int | None:
        return ranking.index(self.truth) + 1 if self.truth in ranking else None


def _z_scores(info: IssueInfo, issue_dir: Path) -> dict[str, float]:
    """Per node, the robust z of the alert's metric in its bad direction over the issue's rows from the alert on."""
    from agents.specialists.metrics.metric_vocabulary import direction
    from agents.specialists.stats import MAD_TO_SIGMA, mad, median

    scenario = issue_dir.parent.parent
    normal = scenario / "noissue" / "metrics.csv"
    if not normal.is_file():
        return {}
    _, base = read_metrics(normal)
    _, inc = read_metrics(issue_dir / "metrics.csv")
    metric, agg = str(info.target["metric"]), str(info.target["agg"])
    sign = direction(metric_of(metric, agg)) or 1
    t0 = float(info.target["timestamp"])
    out: dict[str, float] = {}
    for (node, m, a), points in inc.items():
        if (m, a) != (metric, agg) or not base.get((node, m, a)):
            continue
        values = [v for _, v in base[(node, m, a)]]
        c = median(values)
        scale = max(MAD_TO_SIGMA * mad(values, c), 1e-9)
        after = [v for t, v in points if t >= t0 - 300]
        if after:
            out[node] = max(sign * (v - c) / scale for v in after)
    return out


def _traversal(z: dict[str, float], graph: dict[str, list[str]], start: str) -> list[str]:
    seen, stack, roots = {start}, [start], []
    while stack:
        node = stack.pop()
        bad = [c for c in graph.get(node, []) if z.get(c, 0.0) > TRAVERSAL_Z and c not in seen]
        if not bad and z.get(node, 0.0) > TRAVERSAL_Z:
            roots.append(node)
        for c in bad:
            seen.add(c)
            stack.append(c)
    first = sorted(roots, key=lambda n: (-z[n], n))
    return first + [n for n in sorted(z, key=lambda n: (-z[n], n)) if n not in first]


def alert_nodes(info: IssueInfo, graph: dict[str, list[str]], alert_on: str) -> list[str]:
    """Where the alert fires: the issue's target node (as the dataset gives it), the root cause itself (the alerting
    service is its own cause), or each node the graph says calls the root cause (one alert each)."""
    if alert_on == "cause":
        return [info.root_cause]
    if alert_on == "callers":
        return sorted(c for c, callees in graph.items() if info.root_cause in callees and c != info.root_cause)
    return [str(info.target["node"])]


def evaluate(root: Path, split: str = "train", work: Path | None = None, alert_delay_s: float = 0.0,
             alert_on: str = "target") -> list[IssueScore]:
    """Every issue of the split triaged from an alert on its target's metric (`alert_delay_s` after the target's
    time: a late alert; `alert_on`: on which nodes, ALERT_ON), beside the baselines. The baselines read the
    target's time whatever the alert's delay, and start from the node alerted on."""
    folder = work or Path(tempfile.mkdtemp(prefix="autosre-petshop-"))
    scores = []
    for issue_dir in issue_dirs(root, split):
        info = import_issue(issue_dir, folder / issue_dir.parent.parent.name / issue_dir.name, alert_delay_s)
        z = _z_scores(info, issue_dir)
        graph: dict[str, list[str]] = defaultdict(list)
        for d in read_graph(issue_dir.parent.parent / "graph.csv"):
            graph[d.caller].append(d.callee)
        for alerting in alert_nodes(info, graph, alert_on):
            if alerting == info.target["node"]:  # the importer wrote its alert
                scores.append(_scored(info, info.name, info.alert_path, alerting, z, graph))
            else:
                alert = write_alert(info, alert_delay_s, alerting)
                scores.append(_scored(info, f"{info.name}@{alerting}", alert, alerting, z, graph))
    return scores


def _scored(info: IssueInfo, name: str, alert: Path, alerting: str, z: dict[str, float],
            graph: dict[str, list[str]]) -> IssueScore:
    score = IssueScore(name, info.scenario, info.root_cause, info.has_baseline)
    score.baselines = {"alerting node": [alerting],
                       "robust z": sorted(z, key=lambda n: (-z[n], n)),
                       "traversal": _traversal(z, graph, alerting) if z else []}
    began = time.perf_counter()
    try:
        result = triage(alert.read_bytes(), BundleSource(info.bundle_dir))
        score.ranked = [c.service for c in result.report.causes]
        score.confidence = result.report.causes[0].confidence if result.report.causes else 0.0
        score.partial = result.report.partial
        score.exit_partial = not result.complete
    except Exception as exc:  # one broken issue must not hide the others' scores
        score.error = f"{type(exc).__name__}: {exc}"
    score.seconds = time.perf_counter() - began
    return score


def _hits(scores: list[IssueScore], ranking_of: str, k: int) -> tuple[int, int]:
    """(hits at k, issues counted): a baseline counts only where it can rank (a baseline exists)."""
    counted = hits = 0
    for s in scores:
        ranking = s.ranked if ranking_of == "product" else s.baselines.get(ranking_of, [])
        if ranking_of != "product" and ranking_of != "alerting node" and not s.has_baseline:
            continue
        counted += 1
        r = s.rank(ranking)
        hits += r is not None and r <= k
    return hits, counted


def summarize(scores: list[IssueScore]) -> dict[str, dict[str, float | int]]:
    """Per scenario and overall, top-1/top-3 of the product and each baseline, partial and confident-wrong counts
    (issues with a baseline for top-k; all issues for the partial count)."""
    out: dict[str, dict[str, float | int]] = {}
    groups: dict[str, list[IssueScore]] = defaultdict(list)
    for s in scores:
        groups[s.scenario].append(s)
    groups["all"] = list(scores)
    for name, members in sorted(groups.items()):
        with_base = [s for s in members if s.has_baseline]
        row: dict[str, float | int] = {"issues": len(members), "with_baseline": len(with_base)}
        for who in ("product", "alerting node", "robust z", "traversal"):
            for k in (1, 3):
                hits, counted = _hits(with_base if who == "product" else members, who, k)
                row[f"{who} top-{k}"] = round(hits / counted, 3) if counted else float("nan")
        row["partial without baseline"] = sum(s.exit_partial for s in members if not s.has_baseline)
        row["confident wrong"] = sum(1 for s in members if s.ranked and s.ranked[0] != s.truth
                                     and s.confidence >= CONFIDENT)
        out[name] = row
    return out


def print_table(scores: list[IssueScore]) -> None:
    print(f"{'issue':34} {'truth rank':>10} {'conf':>5} {'partial':>7} {'z rank':>6} {'trav rank':>9}  top cause")
    for s in scores:
        r = s.rank(s.ranked)
        zr = s.rank(s.baselines.get("robust z", []))
        tr = s.rank(s.baselines.get("traversal", []))
        print(f"{s.name:34} {r or '-':>10} {s.confidence:5.2f} {'yes' if s.exit_partial else 'no':>7} "
              f"{zr or 'n/a':>6} {tr or 'n/a':>9}  {s.ranked[0] if s.ranked else s.error or '(none)'}")
    print()
    table = summarize(scores)
    cols = ["product", "robust z", "traversal", "alerting node"]
    print(f"{'scenario':18} {'issues':>6} {'w/ base':>7} " + " ".join(f"{c + ' @1/@3':>22}" for c in cols)
          + f" {'partial (no base)':>17} {'conf. wrong':>11}")
    for name, row in table.items():
        cells = " ".join(f"{row[c + ' top-1']:>10.2f} / {row[c + ' top-3']:<9.2f}" for c in cols)
        print(f"{name:18} {row['issues']:>6} {row['with_baseline']:>7} {cells} {row['partial without baseline']:>17} "
              f"{row['confident wrong']:>11}")


def default_root() -> Path | None:
    found = datasets_dir()
    return found / "petshop" if found is not None and (found / "petshop").is_dir() else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", nargs="?", help="the PetShop folder (default: $AUTOSRE_DATASETS/petshop)")
    p.add_argument("--split", default="train", help="train or test (default: %(default)s)")
    p.add_argument("--alert-delay", type=float, default=0.0, help="seconds the alert fires after the target's time")
    p.add_argument("--alert-on", choices=ALERT_ON, default="target", help="the node(s) the alert fires on")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    root = Path(args.root) if args.root else default_root()
    if root is None or not root.is_dir():
        print("no PetShop data: give its folder or set AUTOSRE_DATASETS", file=sys.stderr)
        return 2
    scores = evaluate(root, args.split, alert_delay_s=args.alert_delay, alert_on=args.alert_on)
    if args.json:
        print(json.dumps({"issues": [asdict(s) for s in scores], "summary": summarize(scores)}, indent=2))
    else:
        print_table(scores)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
