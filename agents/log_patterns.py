"""Pattern mining: Drain3 behind one front door, with generic pre-processing, a cache, and post-processing.

1. Pre-process every line generically (drop a leading timestamp/level, mask variables: ids, numbers, IPs...).
2. Lines that are identical after masking are the same pattern instance: they are counted once and sent to
   Drain3 once (the cache is what makes this several times faster than plain Drain3 on real streams).
3. `assign()` finalises the grouping over the distinct masked lines:
   - split: a Drain cluster whose wildcard position holds only a few distinct plain words (GET/POST/DELETE,
     Started/Stopped) is split by those words: they are meaningful tokens, not parameters; so is one whose
     wildcard position holds only code locations (OrderServiceImpl#88): each is its own log statement;
   - merge: clusters whose templates are equal once runs of wildcards are collapsed are one pattern whose lines
     differ only in how many tokens a parameter took (variable-length parameters).
Memory is bounded: at most `max_lines` distinct masked lines are tracked; past that, new distinct lines share a
single overflow pattern per Drain cluster and `saturated` says so.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

from agents.masking import CODE_LOCATION, mask_variables, strip_prefix

MAX_CLUSTERS = 5000
MAX_DISTINCT_LINES = 200_000
WILDCARD = "<*>"
MAX_SPLIT_VALUES = 8  # a wildcard position with at most this many distinct plain words is split on them
MAX_CODE_SPLIT = 256  # ... and one holding only code locations (Class#48) on up to this many
MAX_SHAPES = 100_000
# Masking treats every digit alike (no rule depends on a digit's value) and keeps code locations (Class#48).
# Two lines equal after mapping every digit outside code locations to 0 (the same "shape") mask identically
# whenever masking consumed all of those digits. The shape is then the cache key, so fresh parameter values hit
# the cache.
_SHAPE = str.maketrans("0123456789", "0000000000")
_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"^[^\d<>]{1,60}$")  # no digits, no mask: a word-like constant candidate
_CODE_TOKEN = re.compile(r"^[\w.$\[\]/-]*[A-Za-z]#\d+$")  # a code location: one log statement, a constant
_WILDCARD_RUN = re.compile(r"<\*>(?:\s+<\*>)+")


def _shape(message: str) -> str:
    """The cache key of a raw line: every digit as 0, except inside code locations."""
    if "#" not in message:
        return message.translate(_SHAPE)
    parts, last = [], 0
    for m in CODE_LOCATION.finditer(message):
        parts += [message[last:m.start()].translate(_SHAPE), m.group()]
        last = m.end()
    parts.append(message[last:].translate(_SHAPE))
    return "".join(parts)


@dataclass
class _Line:
    cluster: int
    tokens: tuple[str, ...]
    count: int = 0


class PatternMiner:
    """`add(message) -> line key`; after adding, `assign()` maps line keys to pattern ids; `template(pid)`;
    `match(message)` finds the pattern of a line without learning from it."""

    def __init__(self, sim_th: float = 0.4, depth: int = 4, max_clusters: int = MAX_CLUSTERS,
                 max_lines: int = MAX_DISTINCT_LINES):
        config = TemplateMinerConfig()
        config.drain_sim_th = sim_th
        config.drain_depth = depth
        config.drain_max_clusters = max_clusters
        config.parametrize_numeric_tokens = True
        config.drain_extra_delimiters = []
        self._miner = TemplateMiner(config=config)
        self._keys: dict[str, int] = {}  # masked line -> line key
        self._shapes: dict[str, int] = {}  # digit-normalised raw line -> line key (bounded cache)
        self._lines: list[_Line] = []
        self._overflow: dict[int, int] = {}  # drain cluster -> overflow line key, once max_lines is reached
        self.max_lines = max_lines
        self.saturated = False
        self._assignment: dict[int, int] | None = None
        self._templates: dict[int, str] = {}
        # drain cluster -> (split positions, split values -> pattern id, pattern id of the unsplit rest)
        self._routes: dict[int, tuple[list[int], dict[tuple[str, ...], int], int | None]] = {}

    @staticmethod
    def preprocess(message: str) -> str:
        return mask_variables(strip_prefix(message.strip()))[:2000]

    def add(self, message: str, count: int = 1) -> int:
        """The line key of `message` (counted `count` times: pre-aggregated rows carry their count)."""
        shape = _shape(message)
        key = self._shapes.get(shape)
        if key is None:
            masked = self.preprocess(message)
            key = self._key_of(masked)
            # exact only when masking consumed every digit outside code locations: then every line of this shape
            # masks the same
            if len(self._shapes) < MAX_SHAPES and not _DIGIT.search(CODE_LOCATION.sub("", masked)):
                self._shapes[shape] = key
        self._lines[key].count += count
        self._assignment = None
        return key

    def _key_of(self, masked: str) -> int:
        key = self._keys.get(masked)
        if key is None:
            result = self._miner.add_log_message(masked)
            cluster = int(result["cluster_id"])
            if len(self._lines) >= self.max_lines:
                self.saturated = True
                key = self._overflow.get(cluster)
                if key is None:
                    key = self._overflow[cluster] = self._new_line(cluster, ())
            else:
                key = self._keys[masked] = self._new_line(cluster, self._tokens(masked))
        return key

    def _tokens(self, masked: str) -> tuple[str, ...]:
        """Tokenise exactly as Drain3 does, so positions line up with the cluster's template."""
        for delimiter in self._miner.config.drain_extra_delimiters:
            masked = masked.replace(delimiter, " ")
        return tuple(masked.split())

    def _new_line(self, cluster: int, tokens: tuple[str, ...]) -> int:
        self._lines.append(_Line(cluster, tokens))
        return len(self._lines) - 1

    def _drain_template(self, cluster: int) -> list[str]:
        c = self._miner.drain.id_to_cluster.get(cluster)
        return list(c.log_template_tokens) if c is not None else []

    def assign(self) -> dict[int, int]:
        """line key -> pattern id (stable for a given input order); computed once per batch of adds."""
        if self._assignment is not None:
            return self._assignment
        by_cluster: dict[int, list[int]] = defaultdict(list)
        for key, line in enumerate(self._lines):
            by_cluster[line.cluster].append(key)
        groups: dict[str, list[int]] = {}
        order: list[str] = []
        routes: dict[int, tuple[list[int], dict[tuple[str, ...], str], str | None]] = {}
        for cluster in sorted(by_cluster):
            template = self._drain_template(cluster)
            positions, parts = self._split(template, by_cluster[cluster])
            route: tuple[list[int], dict[tuple[str, ...], str], str | None] = (positions, {}, None)
            for values, tokens, keys in parts:
                text = _WILDCARD_RUN.sub(WILDCARD, " ".join(tokens))
                if text not in groups:
                    groups[text] = []
                    order.append(text)
                groups[text] += keys
                if values is None:
                    route = (route[0], route[1], text)
                else:
                    route[1][values] = text
            routes[cluster] = route
        self._assignment, self._templates = {}, {}
        pid_of = {text: pid for pid, text in enumerate(order)}
        for pid, text in enumerate(order):
            self._templates[pid] = text
            for key in groups[text]:
                self._assignment[key] = pid
        self._routes = {c: (pos, {v: pid_of[t] for v, t in by_value.items()}, None if rest is None else pid_of[rest])
                        for c, (pos, by_value, rest) in routes.items()}
        return self._assignment

    def match(self, message: str) -> int | None:
        """The pattern id `message` belongs to, without learning from it; None when no pattern fits."""
        assignment = self.assign()
        masked = self.preprocess(message)
        key = self._keys.get(masked)
        if key is not None:
            return assignment.get(key)
        cluster = self._miner.match(masked, full_search_strategy="fallback")
        if cluster is None or cluster.cluster_id not in self._routes:
            return None
        positions, by_value, rest = self._routes[cluster.cluster_id]
        tokens = self._tokens(masked)
        if positions and len(tokens) == len(cluster.log_template_tokens):
            return by_value.get(tuple(tokens[p] for p in positions), rest)
        return rest

    def _split(self, template: list[str], keys: list[int]
               ) -> tuple[list[int], list[tuple[tuple[str, ...] | None, list[str], list[int]]]]:
        """(split positions, [(values at those positions or None for the unsplit rest, tokens, line keys)])."""
        lines = [k for k in keys if len(self._lines[k].tokens) == len(template)]
        in_lines = set(lines)
        odd = [k for k in keys if k not in in_lines]
        positions = []
        for p, token in enumerate(template):
            if token != WILDCARD:
                continue
            seen = Counter(self._lines[k].tokens[p] for k in lines)
            words = len(seen) <= MAX_SPLIT_VALUES and all(_WORD.match(v) for v in seen)
            code = len(seen) <= MAX_CODE_SPLIT and all(_CODE_TOKEN.match(v) for v in seen)
            if len(seen) > 1 and (words or code):
                positions.append(p)
        if not positions:
            return [], [(None, template, keys)]
        parts: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for k in lines:
            parts[tuple(self._lines[k].tokens[p] for p in positions)].append(k)
        out: list[tuple[tuple[str, ...] | None, list[str], list[int]]] = []
        for values, members in sorted(parts.items()):
            tokens = list(template)
            for p, v in zip(positions, values, strict=True):
                tokens[p] = v
            out.append((values, tokens, members))
        if odd:
            out.append((None, template, odd))
        return positions, out

    def template(self, pattern_id: int) -> str:
        self.assign()
        return self._templates.get(pattern_id, "")

    @property
    def pattern_count(self) -> int:
        return len(set(self.assign().values()))
