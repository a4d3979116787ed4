"""Log pattern mining: grouping accuracy on Loghub-2k (8 systems) and throughput on a 1,000,000-line stream.

(a) plain Drain3 with generic masking (the masking instructions of Drain3's own example configuration) and
(b) our PatternMiner, in the same process, on the same inputs.

The stream resamples the dev Loghub lines with fresh parameter values: every digit inside a variable of the
line's ground-truth template is re-drawn, constant text is kept.

Run: python bench/log_parsing.py [--lines 1000000] [--truth corrected]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig

from agents.log_patterns import PatternMiner
from bench.log_eval import SYSTEMS, Labelled, fta, grouping_accuracy, load, parsing_accuracy

GENERIC_MASKS = [  # Drain3's example drain3.ini, minus its one system-specific rule
    (r"((?<=[^A-Za-z0-9])|^)(([0-9a-f]{2,}:){3,}([0-9a-f]{2,}))((?=[^A-Za-z0-9])|$)", "ID"),
    (r"((?<=[^A-Za-z0-9])|^)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})((?=[^A-Za-z0-9])|$)", "IP"),
    (r"((?<=[^A-Za-z0-9])|^)([0-9a-f]{6,} ?){3,}((?=[^A-Za-z0-9])|$)", "SEQ"),
    (r"((?<=[^A-Za-z0-9])|^)([0-9A-F]{4} ?){4,}((?=[^A-Za-z0-9])|$)", "SEQ"),
    (r"((?<=[^A-Za-z0-9])|^)(0x[a-f0-9A-F]+)((?=[^A-Za-z0-9])|$)", "HEX"),
    (r"((?<=[^A-Za-z0-9])|^)([\-\+]?\d+)((?=[^A-Za-z0-9])|$)", "NUM"),
]


def plain_drain3() -> TemplateMiner:
    config = TemplateMinerConfig()
    config.masking_instructions = [MaskingInstruction(p, m) for p, m in GENERIC_MASKS]
    return TemplateMiner(config=config)


def run_drain3(lines: list[str]) -> tuple[list[object], list[str]]:
    miner = plain_drain3()
    ids = [miner.add_log_message(line)["cluster_id"] for line in lines]
    clusters = {c.cluster_id: c.get_template() for c in miner.drain.clusters}
    return ids, [clusters[i] for i in ids]


def run_ours(lines: list[str]) -> tuple[list[object], list[str]]:
    miner = PatternMiner()
    keys = [miner.add(line) for line in lines]
    assignment = miner.assign()
    return [assignment[k] for k in keys], [miner.template(assignment[k]) for k in keys]


def _variable_spans(template: str, content: str) -> list[tuple[int, int]]:
    parts = [re.escape(p) for p in template.split("<*>")]
    m = re.fullmatch("(.*?)".join(parts), content, re.S) if len(parts) > 1 else None
    return [m.span(i) for i in range(1, (m.lastindex or 0) + 1)] if m else []


def fresh_stream(data: list[Labelled], n: int, seed: int = 42) -> Iterator[str]:
    rng = random.Random(seed)
    pool = [(c, _variable_spans(t, c)) for d in data for c, t in zip(d.contents, d.templates, strict=True)]
    for _ in range(n):
        content, spans = pool[rng.randrange(len(pool))]
        if not spans:
            yield content
            continue
        chars = list(content)
        for a, b in spans:
            for i in range(a, b):
                if chars[i].isdigit():
                    chars[i] = str(rng.randrange(10))
        yield "".join(chars)


def throughput(add: Callable[[str], object], lines: list[str]) -> float:
    began = time.perf_counter()
    for line in lines:
        add(line)
    return len(lines) / (time.perf_counter() - began)


def main() -> None:
    default = Path(os.environ.get("AUTOSRE_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lines", type=int, default=1_000_000)
    p.add_argument("--truth", default="corrected", help='"", "corrected" or "corrected_loghub2.0"')
    p.add_argument("--loghub", type=Path, default=default / "loghub2k")
    args = p.parse_args()
    data = {s: load(args.loghub, s, args.truth) for s in SYSTEMS}

    print(f"Grouping on Loghub-2k ({args.truth or 'original'} templates), one global configuration")
    print(f"{'system':<11}{'GA drain3':>10}{'GA ours':>9}{'PA ours':>9}{'FTA ours':>10}{'clusters':>10}")
    totals = {"d": 0.0, "o": 0.0}
    for s, d in data.items():
        d_ids, _ = run_drain3(d.contents)
        o_ids, o_templates = run_ours(d.contents)
        ga_d, ga_o = grouping_accuracy(d_ids, d.event_ids), grouping_accuracy(o_ids, d.event_ids)
        totals["d"] += ga_d
        totals["o"] += ga_o
        print(f"{s:<11}{ga_d:>10.3f}{ga_o:>9.3f}{parsing_accuracy(o_templates, d.templates):>9.3f}"
              f"{fta(o_ids, o_templates, d.event_ids, d.templates):>10.3f}{len(set(o_ids)):>10}")
    print(f"{'average':<11}{totals['d'] / len(data):>10.3f}{totals['o'] / len(data):>9.3f}")

    lines = list(fresh_stream(list(data.values()), args.lines))
    drain = plain_drain3()
    ours = PatternMiner()
    print(f"\nThroughput on a {len(lines):,}-line stream (fresh parameter values)")
    rate_d = throughput(drain.add_log_message, lines)
    rate_o = throughput(ours.add, lines)
    print(f"{'parser':<22}{'lines/s':>12}{'clusters':>10}")
    print(f"{'plain Drain3':<22}{rate_d:>12,.0f}{len(drain.drain.clusters):>10}")
    print(f"{'ours':<22}{rate_o:>12,.0f}{ours.pattern_count:>10}")
    print(f"{'ratio ours/Drain3':<22}{rate_o / rate_d:>12.2f}")


if __name__ == "__main__":
    main()
