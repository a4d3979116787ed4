"""Merging is the default: lines of one statement stay one pattern unless the lines with each value behave
differently. Parameters that co-vary (a user and its home, a host and its address) carry one piece of information
and are no evidence of distinct statements."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from agents.log_patterns import PatternMiner

USERS = ["root", "alice", "bob", "news", "cyrus", "guest", "test"]


def _patterns(lines: list[str], prefix: str) -> set[str]:
    miner = PatternMiner()
    keys = [miner.add(line) for line in lines]
    assignment = miner.assign()
    return {miner.template(assignment[k]) for k, line in zip(keys, lines, strict=True) if line.startswith(prefix)}


def _noise(rng: random.Random, n: int) -> list[str]:
    return [f"worker {rng.randint(1, 9)} heartbeat in {rng.randint(1, 99)} ms" for _ in range(n)]


def _shuffled(lines: list[str], seed: int) -> list[str]:
    random.Random(seed).shuffle(lines)
    return lines


SHELLS = dict(zip(USERS, ["/bin/bash", "/bin/zsh", "/bin/sh", "/sbin/nologin"] * 2, strict=False))
HOSTS = ["gateway", "mail", "files", "backup", "printer"]
SIZES = {"report.txt": "small", "image.iso": "large", "notes.md": "small", "dump.tar": "huge"}


def _user_and_home(rng: random.Random) -> str:
    user = rng.choice(USERS)
    return f"session opened for {user} home /home/{user} shell {SHELLS[user]}"


def _host_and_address(rng: random.Random) -> str:
    host = rng.choice(HOSTS)
    return f"resolved {host} as {host}.example.org via dns"


def _file_and_size(rng: random.Random) -> str:
    name = rng.choice(list(SIZES))
    return f"stored {name} size class {SIZES[name]} in {rng.randint(1, 99)} ms"


@pytest.mark.parametrize("line", [_user_and_home, _host_and_address, _file_and_size])
def test_co_varying_parameters_give_one_pattern(line: Callable[[random.Random], str]) -> None:
    """Each user comes with its own home and shell: the positions determine each other, which is one parameter's
    information, not evidence that the lines of each user are a statement of their own."""
    rng = random.Random(12)
    lines = _shuffled([line(rng) for _ in range(400)] + _noise(rng, 400), 3)
    first = line(rng).split()[0]
    assert len(_patterns(lines, first)) == 1, _patterns(lines, first)


def test_a_parameter_of_the_neighbouring_line_is_no_evidence_either() -> None:
    """Each session line is followed by a line that starts with the same user (Drain keeps a cluster per leading
    word): the neighbours depend on the user only through the user, so the session line stays one pattern."""
    rng = random.Random(4)
    lines: list[str] = []
    for _ in range(300):
        user = rng.choice(USERS)
        lines += [f"session opened for user {user} by sshd", f"{user} : TTY=pts/{rng.randint(0, 9)} ; COMMAND=ls",
                  *_noise(rng, rng.randint(0, 2))]
    assert len(_patterns(lines, "session")) == 1, _patterns(lines, "session")
