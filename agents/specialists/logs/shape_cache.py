"""The pattern miner's cache: a raw line -> its line key, by the line's shape, so that masking (a dozen regular
expressions) runs once per shape of line, not once per line.

Masking treats every digit alike (no rule depends on a digit's value but the 0 of a hexadecimal prefix, 0x) and
keeps code locations (Class#48). Two lines equal after mapping every ASCII digit outside code locations and
hexadecimal prefixes to 0 (the same "shape", which also says where the 0x prefixes are) are therefore masked
at the same places: their masked lines are equal but for the digits masking left in place (en0, IPV4), which come
from the same positions of each line. A shape's entry is the line key when masking left no such digit; otherwise
the masked line's text around those digits and their positions in the raw line, so that the masked line of the
next line of that shape is put together without masking it. The shape is computed on the UTF-8 bytes (one
`bytes.translate`, an order of magnitude cheaper than `str.translate`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from agents.specialists.logs.masking import CODE_LOCATION

MAX_SHAPES = 100_000
MAX_SEEN = 16_384  # raw lines remembered as they are: a service repeats its lines; fresh values fill it once
MAX_RESIDUALS = 64  # distinct kept digits remembered per shape (en0, en1, ...)
_SHAPE = bytes.maketrans(b"0123456789", b"0000000000")
_ASCII_DIGIT = re.compile(r"[0-9]")
_HEX_PREFIX = re.compile(r"0[xX]")


def shape(message: str) -> bytes:
    """The cache key of a raw line: every ASCII digit as 0, except inside code locations; then where the
    hexadecimal prefixes (0x) are, if any."""
    key = message.encode("utf-8", "surrogatepass").translate(_SHAPE) if "#" not in message else _coded(message)
    return key + _hex_prefixes(message) if "0x" in message or "0X" in message else key


def _hex_prefixes(message: str) -> bytes:
    return b"\xff" + b",".join(b"%d" % m.start() for m in _HEX_PREFIX.finditer(message))  # \xff: never UTF-8


def _coded(message: str) -> bytes:
    parts, last = [], 0
    for m in CODE_LOCATION.finditer(message):
        parts += [message[last:m.start()].encode("utf-8", "surrogatepass").translate(_SHAPE),
                  b"#" + m.group().encode("utf-8", "surrogatepass")]  # marked: a kept digit is not a zero
        last = m.end()
    parts.append(message[last:].encode("utf-8", "surrogatepass").translate(_SHAPE))
    return b"".join(parts)


def _variable_digits(message: str) -> list[int]:
    """Positions of the ASCII digits outside code locations and hexadecimal prefixes (the ones a shape maps to 0
    whatever they are)."""
    kept = [range(m.start(), m.end()) for m in CODE_LOCATION.finditer(message)] if "#" in message else []
    kept += [range(m.start(), m.start() + 1) for m in _HEX_PREFIX.finditer(message)]
    return [m.start() for m in _ASCII_DIGIT.finditer(message) if not any(m.start() in r for r in kept)]


def _with_digits(message: str, positions: list[int], digit: Callable[[int], str]) -> str:
    chars = list(message)
    for j, p in enumerate(positions):
        chars[p] = digit(j)
    return "".join(chars)


def _place_digit(place: int) -> Callable[[int], str]:
    return lambda j: str(j // place % 9 + 1)


_Residual = tuple[tuple[str, ...], tuple[int, ...], dict[str, int]]
_ONCE = -1  # a shape met once whose masking kept digits


def _residual(message: str, masked: str, mask: Callable[[str], str]) -> _Residual | None:
    """(the masked text around the digits masking kept, their positions in `message`, an empty memo), found by
    masking the line again with its variable digits re-written: all 1 then all 2 tell which output characters are
    kept digits, then each digit's index written in base 9 with the digits 1-9 (a 0 could make a hexadecimal
    prefix), one pass per place. None when the outputs do
    not line up (masking would then not be digit-blind: the line is not cached)."""
    positions = _variable_digits(message)
    ones = mask(_with_digits(message, positions, lambda j: "1"))
    twos = mask(_with_digits(message, positions, lambda j: "2"))
    if not (len(ones) == len(twos) == len(masked)):
        return None
    kept = [q for q in range(len(masked)) if ones[q] != twos[q]]
    index = [0] * len(kept)
    place = 1
    while place == 1 or place < len(positions):
        out = mask(_with_digits(message, positions, _place_digit(place)))
        if len(out) != len(masked):
            return None
        for i, q in enumerate(kept):
            index[i] += (int(out[q]) - 1) * place
        place *= 9
    if any(i >= len(positions) for i in index):
        return None
    pieces, last = [], 0
    for q in kept:
        pieces.append(masked[last:q])
        last = q + 1
    pieces.append(masked[last:])
    return tuple(pieces), tuple(positions[i] for i in index), {}


class ShapeCache:
    """`key(message)`: the line key of a raw line, masking it only when its shape is new. `mask` is the miner's
    pre-processing, `key_of` maps a masked line to its line key (learning it when new)."""

    def __init__(self, mask: Callable[[str], str], key_of: Callable[[str], int], max_shapes: int = MAX_SHAPES,
                 max_seen: int = MAX_SEEN):
        self._mask, self._key_of = mask, key_of
        self._shapes: dict[bytes, int | _Residual] = {}
        self._seen: dict[str, int] = {}  # raw line -> line key, for lines whose shape is cached
        self.max_shapes, self.max_seen = max_shapes, max_seen

    def fixed(self, message: str) -> bool:
        """Whether every line of this line's shape has one line key (its masking left no digit), as met so far."""
        s = shape(message)
        entry = self._shapes.get(s)
        return isinstance(entry, int) and entry != _ONCE

    def key(self, message: str) -> int:
        key = self._seen.get(message)
        if key is not None:
            return key
        s = message.encode("utf-8", "surrogatepass").translate(_SHAPE) if "#" not in message else _coded(message)
        if "0x" in message or "0X" in message:  # (`shape`, inlined: this is the hot path)
            s += _hex_prefixes(message)
        entry = self._shapes.get(s)
        if entry is None or entry == _ONCE:
            masked = self._mask(message)
            key = self._key_of(masked)
            if len(self._shapes) >= self.max_shapes:
                return key
            if not _ASCII_DIGIT.search(CODE_LOCATION.sub("", masked) if "#" in masked else masked):
                self._shapes[s] = key
            elif entry is None:  # kept digits: worked out when the shape comes again (most shapes of ids never do)
                self._shapes[s] = _ONCE
                return key
            else:
                residual = _residual(message, masked, self._mask)
                if residual is None:
                    return key
                self._shapes[s] = residual
                residual[2]["".join([message[p] for p in residual[1]])] = key
        elif isinstance(entry, int):  # not _ONCE: handled above
            key = entry
        else:
            pieces, positions, memo = entry
            digits = "".join([message[p] for p in positions])
            found = memo.get(digits)
            if found is not None:
                key = found
            else:
                parts = [pieces[0]]
                for d, piece in zip(digits, pieces[1:], strict=True):
                    parts += [d, piece]
                key = self._key_of("".join(parts))
                if len(memo) < MAX_RESIDUALS:
                    memo[digits] = key
        if len(self._seen) < self.max_seen:
            self._seen[message] = key
        return key
