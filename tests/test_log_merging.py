"""Merging is the default: lines of one statement stay one pattern unless the lines with each value behave
differently. Parameters that co-vary (a user and its home, a host and its address) carry one piece of information
and are no evidence of distinct statements; an empty optional group and a date inside the message are variables."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from agents.specialists.logs.log_patterns import PatternMiner

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


def test_an_empty_optional_group_is_no_new_statement() -> None:
    """`()` and `(host.example.org)`: the same statement with and without a resolved name, even when the lines
    without one come in bursts of their own (a scanner) and so sit beside different lines."""
    rng = random.Random(8)
    lines: list[str] = []
    for _ in range(150):
        ip = ".".join(str(rng.randint(1, 254)) for _ in range(4))
        if rng.random() < 0.5:
            lines += [f"connection from {ip} () at Sun Jul 24 02:38:{rng.randint(10, 59)} 2005",
                      f"ANONYMOUS FTP LOGIN REFUSED FROM {ip}"]
        else:
            lines += [f"connection from {ip} ({rng.choice(HOSTS)}.example.org) at Mon Jul 25 1{rng.randint(0, 9)}:00:00"
                      " 2005", f"session opened for user {rng.choice(USERS)} by (uid={rng.randint(0, 999)})"]
    assert len(_patterns(lines, "connection")) == 1, _patterns(lines, "connection")


def test_dates_inside_messages_do_not_split() -> None:
    """A date inside a message is one variable whatever its written form, so that one statement with dates of
    different days (and lengths) stays one pattern."""
    rng = random.Random(5)
    lines = _shuffled([f"audit for host cp-{rng.randint(1, 4)} from {d} done" for d in (
        "Sun Jul 24 02:38:22 2005", "Mon Jul 25 10:11:12 PDT 2005", "2017-05-16 05:00:00", "Jul 26, 2005",
        "24/Jul/2005:02:38:22 -0700", "Tue, 26 Jul 2005 09:00:01 +0200") for _ in range(60)] + _noise(rng, 200), 6)
    assert _patterns(lines, "audit") == {"audit for host cp-<*> from <*> done"}


def test_a_neighbour_carrying_the_same_parameter_elsewhere_is_no_evidence() -> None:
    """The line after each session line carries the user twice (`alice : cron job for alice started`): Drain keeps
    one cluster per user there, and the templates differ at two positions, so they are not one family. The
    neighbours depend on the user only because they hold the same parameter: the session line stays one pattern."""
    rng = random.Random(1)
    lines: list[str] = []
    for _ in range(300):
        user = rng.choice(USERS)
        lines += [f"session opened for user {user} uid {1000 + USERS.index(user)} by sshd",
                  f"{user} : cron job for {user} started", *_noise(rng, rng.randint(0, 2))]
    assert len(_patterns(lines, "session")) == 1, _patterns(lines, "session")


def _two_windows(first: list[str], second: list[str]) -> tuple[PatternMiner, list[int]]:
    """One miner over a baseline and an incident window, as the log analyst mines them: pattern id per line."""
    miner = PatternMiner()
    keys = [miner.add(line) for line in first]
    miner.start_window()
    keys += [miner.add(line) for line in second]
    assignment = miner.assign()
    return miner, [assignment[k] for k in keys]


@pytest.mark.parametrize(("n1", "n2"), [(300, 300), (300, 900), (900, 300), (40, 40)])
def test_a_value_first_met_in_the_second_window_is_no_new_statement(n1: int, n2: int) -> None:
    """The second window has other background lines, and users and a flag value the first never had. Those
    values' lines sit beside the second window's background only because they came then; within that window every
    value's lines behave alike. One pattern each, none new."""
    rng = random.Random(n1 + n2)
    first = [line for _ in range(n1) for line in (f"session opened for user {rng.choice(USERS[:4])} by sshd",
                                                  f"feature sync is enabled for tenant t{rng.randint(100, 999)}",
                                                  *_noise(rng, 1))]
    second = [line for _ in range(n2) for line in (f"session opened for user {rng.choice(USERS)} by sshd",
                                                   f"feature sync is {rng.choice(['enabled', 'disabled'])} for tenant"
                                                   f" t{rng.randint(100, 999)}", f"disk {rng.randint(1, 9)} check ok")]
    miner, ids = _two_windows(first, second)
    lines = first + second
    for prefix in ("session", "feature"):
        got = {p for p, line in zip(ids, lines, strict=True) if line.startswith(prefix)}
        assert len(got) == 1, {miner.template(p) for p in got}


def test_a_statement_new_in_the_second_window_is_still_told_apart() -> None:
    """Compared within the second window, a word whose lines sit beside other statements there is split."""
    rng = random.Random(3)
    first = [line for _ in range(300) for line in (f"job {rng.randint(1, 99)} state running", *_noise(rng, 1))]
    second = [line for _ in range(300) for line in (f"job {rng.randint(1, 99)} state running", *_noise(rng, 1),
                                                    *([f"job {rng.randint(1, 99)} state failed",
                                                       f"retry scheduled in {rng.randint(1, 9)} s"]
                                                      if rng.random() < 0.3 else []))]
    miner, ids = _two_windows(first, second)
    got = {miner.template(p) for p, line in zip(ids, first + second, strict=True) if line.startswith("job")}
    assert got == {"job <*> state running", "job <*> state failed"}, got
