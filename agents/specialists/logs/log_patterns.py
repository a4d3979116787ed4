"""Pattern mining: Drain3 behind one front door, with generic pre-processing, a cache, and post-processing.

1. Pre-process every line generically (drop a leading timestamp/level, mask variables: ids, numbers, IPs...).
2. Lines that are identical after masking are the same pattern instance: they are counted once and sent to
   Drain3 once; lines of one shape (equal but for their digits) are masked once (`shape_cache`).
3. `assign()` finalises the grouping over the distinct masked lines:
   - split: merging is the default. A Drain cluster's wildcard position holding plain words is split by them only
     on evidence that the lines with each word are distinct statements: the statements of the lines before and
     after them depend on the word (the strength measured per word so that a dominant word does not hide a rare
     one). Never on how few words it holds, nor on other parameters that come with each word (a user and its uid,
     a host and its address co-vary: one piece of information): a user name, a flag, a weekday stays a parameter.
     A neighbour that carries the words itself (one Drain cluster per user) is known without them, and the words
     are compared within each window of the stream (`start_window`: a baseline, an incident), never across: a
     value first met in the second window meets that window's lines, which says nothing about the value;
     a position holding only code locations (OrderServiceImpl#88) is split too: each is its own log statement;
   - merge: clusters whose templates are equal once runs of wildcards are collapsed and bracketed wildcards
     ("(<*>)", an optional group) dropped are one pattern (variable-length parameters, optional groups).
All knobs are in `MinerConfig`; `bench/log_parsing.py` scores them leave-one-system-out on Loghub-2k.
Memory is bounded: at most `max_lines` distinct masked lines are tracked; past that, new distinct lines share a
single overflow pattern per Drain cluster and `saturated` says so.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from itertools import islice

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

from agents.specialists.logs.masking import mask_variables, strip_prefix
from agents.specialists.logs.shape_cache import ShapeCache

MAX_CLUSTERS = 5000
MAX_DISTINCT_LINES = 200_000
WILDCARD = "<*>"
MAX_CODE_SPLIT = 256  # ... and one holding only code locations (Class#48) on up to this many
MIN_FAMILY_TOKENS = 3  # two templates differing at one position are variants when they share at least two tokens
MAX_CONTEXT = 64  # distinct neighbouring clusters tracked per distinct line; the rest share one bucket
OTHER = -(1 << 40)
WINDOW = 1 << 42  # a context key is the neighbour key plus WINDOW times the window it was met in
_WORD = re.compile(r"^[^<>]{1,60}$")  # left unmasked: a word-like constant candidate
_CODE_TOKEN = re.compile(r"^[\w.$\[\]/-]*[A-Za-z]#\d+$")  # a code location: one log statement, a constant
_WILDCARD_RUN = re.compile(r"<\*>(?:\s+<\*>)+")
# a token that is only a wildcard in brackets, "(<*>)" or "[<*>]": an optional count or id some lines carry
_OPTIONAL_GROUP = re.compile(r"(?:^|\s)[(\[]<\*>[)\]](?=\s|$)")
_PIECES = re.compile(r"(\W+)")  # a token's word pieces ("/home/alice" -> home, alice) and what separates them
_CARRIED = "\0"  # a word a neighbouring template carries, in that template's key


def _families(templates: dict[int, list[str]]) -> dict[int, int]:
    """Neighbour key -> its family's key: Drain clusters of one length whose templates differ at one position
    (transitively) are one family, the variants of a statement by a parameter Drain routed on (a leading word) or
    was too strict to merge. Keys as in `_Line.context`: c for the line after, ~c for the line before."""
    parent = {c: c for c in templates}

    def root(c: int) -> int:
        while parent[c] != c:
            parent[c] = c = parent[parent[c]]
        return c

    first: dict[tuple[int, tuple[str, ...]], int] = {}
    for c in sorted(templates):
        tokens = templates[c]
        for i in range(len(tokens) if len(tokens) >= MIN_FAMILY_TOKENS else 0):
            seen = first.setdefault((i, (*tokens[:i], *tokens[i + 1:])), c)
            a, b = root(seen), root(c)
            if a != b:
                parent[max(a, b)] = min(a, b)
    out: dict[int, int] = {}
    for c in templates:
        r = root(c)
        if r != c:
            out[c], out[~c] = r, ~r
    return out


@dataclass
class _Line:
    cluster: int
    tokens: tuple[str, ...]
    count: int = 0
    # neighbouring lines' Drain clusters: c for the line after, ~c for the line before, plus WINDOW times the
    # window (bounded: MAX_CONTEXT neighbours, the rest in one OTHER bucket per window)
    context: dict[int, int] = field(default_factory=dict)


def _distance(row: dict[Hashable, int], n: int, cols: Counter[Hashable], total: int) -> float:
    """Total variation distance between one word's neighbouring clusters and the other words' ones."""
    rest = total - n
    if rest <= 0 or n <= 0:
        return 0.0
    return 0.5 * sum(abs(row.get(o, 0) / n - (m - row.get(o, 0)) / rest) for o, m in cols.items())


def _g_test(tables: list[dict[str, dict[Hashable, int]]], min_effect: float, per_word: bool) -> float:
    """-log10 p of a G-test of independence between a position's words and the neighbouring clusters, one table
    per window of the stream, their statistics and degrees of freedom summed (chi-square tail by the
    Wilson-Hilferty approximation); 0 when the dependence is weak in every window (under `min_effect`): with
    enough lines any dependence is significant, a statement's own context is strong. The effect is, with
    `per_word`, the largest total variation distance between one word's neighbours and the other words' (a
    statement met once beside 600 lines of another is as different as it can be), else Cramer's V of the whole
    table (which a dominant word dilutes)."""
    g, dof, strong = 0.0, 0, False
    for table in tables:
        g_one, dof_one, strong_one = _g_statistic(table, min_effect, per_word)
        g, dof, strong = g + g_one, dof + dof_one, strong or strong_one
    if not strong or dof <= 0:
        return 0.0
    h = 2 / (9 * dof)
    z = ((max(g, 0.0) / dof) ** (1 / 3) - (1 - h)) / math.sqrt(h)
    p = 0.5 * math.erfc(z / math.sqrt(2))
    return -math.log10(max(p, 1e-300))


def _g_statistic(table: dict[str, dict[Hashable, int]], min_effect: float, per_word: bool
                 ) -> tuple[float, int, bool]:
    """(G, degrees of freedom, whether the effect reaches `min_effect`) of one window's table."""
    rows = {v: sum(c.values()) for v, c in table.items()}
    cols: Counter[Hashable] = Counter()
    for c in table.values():
        cols.update(c)
    total = sum(rows.values())
    dof = (len(rows) - 1) * (len(cols) - 1)
    if dof <= 0 or total == 0:
        return 0.0, 0, False
    g = 2 * sum(n * math.log(n * total / (rows[v] * cols[o])) for v, c in table.items() for o, n in c.items() if n)
    if per_word:
        strong = max(_distance(c, rows[v], cols, total) for v, c in table.items()) >= min_effect
    else:
        strong = g >= min_effect ** 2 * total * (min(len(rows), len(cols)) - 1)
    return g, dof, strong


@dataclass(frozen=True)
class MinerConfig:
    """Every knob (chosen per fold by bench/log_parsing.py from a small grid) and rule switch (ablated there)."""

    sim_th: float = 0.5  # Drain's similarity threshold
    depth: int = 4  # Drain's parse-tree depth
    # split a plain-word position on evidence of this strength (-log10 p) that the statements of the lines before
    # and after depend on its word (None: never split a word position) ...
    split_evidence: float | None = 1.0
    min_effect: float = 0.3  # ... at least this strongly
    families: bool = True  # a neighbour is known by its family (Drain clusters equal but at one position)
    word_effect: bool = True  # strength: one word's neighbours against the others' (else Cramer's V of all)
    split_code: bool = True  # split a position holding only code locations (Class#48): one statement each
    merge_runs: bool = True  # one pattern when templates are equal once runs of wildcards are collapsed
    merge_optional: bool = True  # ... and once bracketed wildcards, "(<*>)", are dropped: optional groups
    host_port: bool = True  # mask host.name:port as one variable (masking.HOST_PORT)
    dot_leader: bool = True  # mask the value after a dot leader (depth.......0) alone (masking.DOT_LEADER)
    dates: bool = True  # mask a date or time inside a message as one variable (masking.DATE_TIME)
    empty_groups: bool = True  # mask an empty group, () or [], as an absent value (masking.EMPTY_GROUP)
    # a neighbour whose template carries the position's words is known without them (the same parameter again)
    carried_words: bool = True
    # compare a position's words within each window of the stream (`PatternMiner.start_window`), not across
    by_window: bool = True


class PatternMiner:
    """`add(message) -> line key`; after adding, `assign()` maps line keys to pattern ids; `template(pid)`;
    `match(message)` finds the pattern of a line without learning from it."""

    def __init__(self, config: MinerConfig | None = None, max_clusters: int = MAX_CLUSTERS,
                 max_lines: int = MAX_DISTINCT_LINES):
        self.config = cfg = config or MinerConfig()
        drain = TemplateMinerConfig()
        drain.drain_sim_th = cfg.sim_th
        drain.drain_depth = cfg.depth
        drain.drain_max_clusters = max_clusters
        drain.parametrize_numeric_tokens = True
        drain.drain_extra_delimiters = []
        self._miner = TemplateMiner(config=drain)
        self._keys: dict[str, int] = {}  # masked line -> line key
        self._cache = ShapeCache(self.preprocess, self._key_of)  # raw line -> line key, by the line's shape
        self._lines: list[_Line] = []
        self._previous: _Line | None = None  # the line added last, for the context of the next one
        self._context = cfg.split_evidence is not None
        self._overflow: dict[int, int] = {}  # drain cluster -> overflow line key, once max_lines is reached
        self.max_lines = max_lines
        self.saturated = False
        self._assignment: dict[int, int] | None = None
        self._templates: dict[int, str] = {}
        # drain cluster -> (split positions, split values -> pattern id, pattern id of the unsplit rest)
        self._routes: dict[int, tuple[list[int], dict[tuple[str, ...], int], int | None]] = {}
        self._family: dict[int, int] = {}  # neighbour key (c after, ~c before) -> its family's key
        self._templates_of: dict[int, list[str]] = {}  # drain cluster -> its template tokens, at assign()
        self._carriers: dict[str, set[int]] = {}  # a token or word piece -> the clusters whose template has it
        self._window = 0  # WINDOW times the number of windows started

    def preprocess(self, message: str) -> str:
        cfg = self.config
        return mask_variables(strip_prefix(message.strip()), cfg.host_port, cfg.dot_leader, cfg.dates,
                              cfg.empty_groups)[:2000]

    def start_window(self) -> None:
        """The lines added from now on are another window of the stream (a baseline, then an incident): they are
        not the neighbours of the lines before, and a position's words are compared within each window."""
        if self._context and self.config.by_window:
            self._window += WINDOW
            self._previous = None

    def add(self, message: str, count: int = 1) -> int:
        """The line key of `message` (counted `count` times: pre-aggregated rows carry their count)."""
        key = self._cache.key(message)
        line = self._lines[key]
        line.count += count
        if self._context:
            before = self._previous
            if before is not None:  # what a statement's lines sit between: the clusters before and after them
                window = self._window  # (`_neighbours`, inlined: the hot path)
                for context, neighbour in ((line.context, ~before.cluster + window),
                                           (before.context, line.cluster + window)):
                    if neighbour in context:
                        context[neighbour] += count
                    elif len(context) < MAX_CONTEXT:
                        context[neighbour] = count
                    else:
                        context[OTHER + window] = context.get(OTHER + window, 0) + count
            self._previous = line
        self._assignment = None
        return key

    def _neighbours(self, before: _Line, line: _Line, count: int) -> None:
        window = self._window
        for context, neighbour in ((line.context, ~before.cluster + window), (before.context, line.cluster + window)):
            if neighbour in context:
                context[neighbour] += count
            elif len(context) < MAX_CONTEXT:
                context[neighbour] = count
            else:
                context[OTHER + window] = context.get(OTHER + window, 0) + count

    def add_keys(self, keys: Sequence[int]) -> None:
        """Count consecutive lines given by their line keys (from `key`), as `add` of each line in turn would.
        A neighbour enters a line's context (or the OTHER bucket, when full) the first time it is met, and every
        later meeting adds to the same entry; so the pairs of consecutive lines are counted at once (C speed) and
        replayed in the order each pair was first met, which meets every neighbour of every line in its order."""
        if not keys:
            return
        lines = self._lines
        for key, n in Counter(keys).items():
            lines[key].count += n
        self._assignment = None
        if not self._context:
            return
        if self._previous is not None:
            self._neighbours(self._previous, lines[keys[0]], 1)
        for (a, b), n in Counter(zip(keys, islice(keys, 1, None), strict=False)).items():  # first met first
            self._neighbours(lines[a], lines[b], n)
        self._previous = lines[keys[-1]]

    def key(self, message: str) -> int:
        """The line key of `message`, learning it when new, without counting it (a line counted already)."""
        self._assignment = None
        return self._cache.key(message)

    def digit_blind(self, message: str) -> bool:
        """Whether every line equal to `message` but for its ASCII digits (outside code locations and hexadecimal
        prefixes) has its line key, as far as the lines learnt tell (a line's shape met, its masking left no digit)."""
        return self._cache.fixed(message)

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
        self._templates_of = {c: self._drain_template(c) for c in by_cluster} if self._context else {}
        self._family = _families(self._templates_of) if self._context and self.config.families else {}
        self._carriers = {}
        if self._context and self.config.carried_words:
            for c, tokens in self._templates_of.items():
                for t in tokens:
                    for piece in {t, *_PIECES.split(t)}:
                        self._carriers.setdefault(piece, set()).add(c)
        groups: dict[str, list[int]] = {}
        order: list[str] = []
        routes: dict[int, tuple[list[int], dict[tuple[str, ...], str], str | None]] = {}
        for cluster in sorted(by_cluster):
            template = self._drain_template(cluster)
            positions, parts = self._split(template, by_cluster[cluster])
            route: tuple[list[int], dict[tuple[str, ...], str], str | None] = (positions, {}, None)
            for values, tokens, keys in parts:
                text = " ".join(tokens)
                if self.config.merge_optional:
                    text = _OPTIONAL_GROUP.sub("", text).strip() or text
                if self.config.merge_runs:
                    text = _WILDCARD_RUN.sub(WILDCARD, text)
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
        varying = [p for p, t in enumerate(template) if t == WILDCARD]
        positions = []
        cfg = self.config
        if cfg.split_code:
            positions = [p for p in varying if self._all_code(p, lines)]
        if cfg.split_evidence is not None:
            positions = sorted({*positions, *self._evidence_positions(varying, lines, cfg.split_evidence)})
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

    def _all_code(self, p: int, lines: list[int]) -> bool:
        seen = {self._lines[k].tokens[p] for k in lines}
        return 1 < len(seen) <= MAX_CODE_SPLIT and all(_CODE_TOKEN.match(v) for v in seen)

    def _evidence_positions(self, varying: list[int], lines: list[int], threshold: float) -> set[int]:
        """Wildcard positions holding plain words that tell the lines' statements apart: split on them.

        A position is split only on evidence that the lines with each word are distinct statements, never on how
        few words it holds nor on what other parameters come with each word (a user and its home directory
        determine each other: one piece of information). The evidence is where the lines sit in the program's
        flow: the statements of the lines just before and after them must depend on the word (see `_g_test`),
        unlikely (under 10**-threshold) were they independent. A neighbour is known by its family, so that a
        neighbour carrying the same parameter (a line led by the user name, one Drain cluster per user) is no
        evidence either, nor one whose template carries the word itself (`_carried`). The words are compared
        within each window of the stream, then the evidence of all windows summed (a word met only in one window
        is compared with the words of that window: the stream changed, which says nothing about the word). Then a
        part is examined again on its own (its other positions may hold the next level's evidence). A user name, a
        host name or true/false with nothing that depends on it stays a parameter."""
        chosen: set[int] = set()
        todo = [lines]
        family = self._family
        while todo:
            group = todo.pop()
            best, best_score = -1, threshold
            for p in varying:
                if p in chosen:
                    continue
                column = [self._lines[k].tokens[p] for k in group]
                words = set(column)
                if len(words) < 2 or not all(_WORD.match(v) for v in words):
                    continue
                carried = self._carried(words)
                tables: dict[int, dict[str, dict[Hashable, int]]] = defaultdict(lambda: defaultdict(dict))
                for v, k in zip(column, group, strict=True):
                    for o, n in self._lines[k].context.items():
                        window = (o + WINDOW // 2) // WINDOW
                        o -= window * WINDOW
                        row = tables[window][v]
                        key: Hashable = carried.get(o) or family.get(o, o)
                        row[key] = row.get(key, 0) + n
                score = _g_test(list(tables.values()), self.config.min_effect, self.config.word_effect)
                if score > best_score:
                    best, best_score = p, score
            if best < 0:
                continue
            chosen.add(best)
            parts: dict[str, list[int]] = defaultdict(list)
            for k in group:
                parts[self._lines[k].tokens[best]].append(k)
            todo += [part for part in parts.values() if len(part) > 1]
        return chosen

    def _carried(self, words: set[str]) -> dict[int, Hashable]:
        """Neighbour key -> its key without the words: for the neighbours whose template carries one of `words`
        (as a token or a word piece of one: `alice : cron for /home/alice`). Such a neighbour depends on the word
        only because it holds the same parameter (one Drain cluster per user), which is no evidence; each word's
        lines then meet the same neighbour. Every neighbour carrying any of the words is keyed so for every word,
        so that a constant that happens to equal one of them cannot set the words apart either."""
        out: dict[int, Hashable] = {}
        for c in set().union(*(self._carriers.get(w, ()) for w in words)) if self._carriers else ():
            key = tuple(_CARRIED if t in words else "".join(_CARRIED if p in words else p for p in _PIECES.split(t))
                        for t in self._templates_of[c])
            out[c], out[~c] = (True, key), (False, key)
        return out

    def template(self, pattern_id: int) -> str:
        self.assign()
        return self._templates.get(pattern_id, "")

    @property
    def pattern_count(self) -> int:
        return len(set(self.assign().values()))
