"""Secrets and personal data never leave in an exemplar; variables are masked before clustering."""

from __future__ import annotations

import base64
import json

import pytest

from agents.specialists.logs.masking import mask_secrets, mask_variables, strip_prefix
from shared.severity import severity_of


def _jwt() -> str:
    def part(doc: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part({'sub': '1234567890', 'exp': 1767225600})}." \
           "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"


PEM = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
       "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n-----END RSA PRIVATE KEY-----")

# (line, the secret that must not survive masking)
LEAKS = [
    ("GET /v1/orders Authorization: Bearer ya29.a0AfH6SMBx3kLq9RZ8Yc1T7oPq_vN2wX-4mJk", "a0AfH6SMBx3kLq9RZ8Yc1T7oPq"),
    ("upstream call with header authorization=Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"),
    ("maps client init key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"),
    ("openai request failed (key sk-proj-4fQ8bX2mT9vK1pL7wZ3nR6sY0aE5cH8j)", "4fQ8bX2mT9vK1pL7wZ3nR6sY0aE5cH8j"),
    ("stripe charge via sk_live_51H8xYzKq2Lm3Np4Qr5St6Uv7Wx8", "51H8xYzKq2Lm3Np4Qr5St6Uv7Wx8"),
    ("git clone https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com/acme/app.git",
     "ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
    ("using credentials AKIAIOSFODNN7EXAMPLE for s3://acme-backups", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY region=us-east-1",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("token verified: " + _jwt(), _jwt().split(".")[1]),
    ("login attempt user=alice password=Tr0ub4dor&3 from 10.2.3.4", "Tr0ub4dor"),
    ("db connect db_password: 'c0rrect-h0rse' host=db-0", "c0rrect-h0rse"),
    ('config loaded {"user": "svc", "password": "hunter2!", "port": 5432}', "hunter2!"),
    ('{"client_secret":"GOCSPX-1a2b3c4d5e6f7g8h9i0j","client_id":"42.apps"}', "GOCSPX-1a2b3c4d5e6f7g8h9i0j"),
    ("SECRET_KEY=django-insecure-8f#2k!x9q@w3e4r5t6y7u8i9o0p", "django-insecure-8f"),
    ("connecting to postgres://app:s3cr3tPass@10.0.0.5:5432/orders", "s3cr3tPass"),
    ("slack notify failed token xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "AbCdEfGhIjKlMnOpQrStUvWx"),
    ("loaded service account " + PEM, "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"),
    ("password reset mail sent to jane.doe+billing@example.co.uk", "jane.doe+billing@example.co.uk"),
    ("payment declined for card 4111 1111 1111 1111 exp 12/29", "4111 1111 1111 1111"),
    ("charge card=5500005555555559 amount=12.00", "5500005555555559"),
]


@pytest.mark.parametrize(("line", "secret"), LEAKS, ids=[f"leak{i}" for i in range(len(LEAKS))])
def test_secrets_are_masked(line: str, secret: str) -> None:
    masked = mask_secrets(line)
    assert secret not in masked, masked
    assert "<" in masked  # replaced by a labelled placeholder, not dropped silently


def test_what_is_not_secret_survives() -> None:
    """Ids an operator needs to follow a line (trace ids, timestamps, order numbers, hosts) are kept."""
    line = ("2023-01-29 10:12:48.123 ERROR o.s.OrderServiceImpl#88 TraceID: 43793fdb3f4862a691d4ce26d5e523ec "
            "order 1674987944526098861 failed on host db-0:5432 after 350 ms")
    assert mask_secrets(line) == line


def test_placeholders_say_what_was_there() -> None:
    assert mask_secrets("mail bob@example.com") == "mail <EMAIL>"
    assert mask_secrets("Authorization: Bearer abcdefghijklmnop") == "Authorization: Bearer <TOKEN>"
    assert "<PRIVATE_KEY>" in mask_secrets(PEM)
    assert mask_secrets("password=x") == "password=<SECRET>"


def test_masking_is_idempotent() -> None:
    for line, _ in LEAKS:
        once = mask_secrets(line)
        assert mask_secrets(once) == once


def test_variables_are_masked_before_clustering() -> None:
    line = ("Connection from 10.250.19.102:50010 closed after 350ms for request "
            "3f2504e0-4f89-11d3-9a0c-0305e82c3301 user u48211 at 2023-01-29T10:12:48Z (blk_-1608999687919862906)")
    masked = mask_variables(line)
    for value in ("10.250.19.102", "350", "3f2504e0", "u48211", "2023-01-29", "1608999687919862906"):
        assert value not in masked, masked
    assert masked.startswith("Connection from <*> closed after <*> for request <*>")


def test_code_locations_and_short_names_are_not_variables() -> None:
    assert mask_variables("o.s.OrderServiceImpl#88 create order") == "o.s.OrderServiceImpl#88 create order"
    assert mask_variables("link en0 up, IPV4 ready") == "link en0 up, IPV4 ready"


def test_leading_timestamp_and_level_are_stripped() -> None:
    assert strip_prefix("2023-01-29 10:12:48,123 WARN disk almost full") == "disk almost full"
    assert strip_prefix("18:25:44.525 INFO  c.TravelServiceImpl#532 Get Route") == "c.TravelServiceImpl#532 Get Route"
    assert strip_prefix("ERROR: boom") == "boom"
    assert severity_of("18:25:44.525 WARN  c.Foo#1 slow") == "WARNING"
    assert severity_of("nothing stated here") == "DEFAULT"


def test_a_host_with_a_port_is_one_variable_but_a_key_value_is_not() -> None:
    assert mask_variables("open proxy.example.org:5070 through db-0.svc.local:5432") == "open <*> through <*>"
    assert mask_variables("reply status:200 len:12") == "reply status:<*> len:<*>"
    assert mask_variables("open proxy.example.org:5070", host_port=False) == "open proxy.example.org:<*>"


def test_a_value_after_a_dot_leader_is_masked_alone() -> None:
    """A key padded with dots to its value (name.......0, a status dump): the value is the variable, the key stays;
    without the rule digit-bearing words swallow the key."""
    assert mask_variables("program interrupt: illegal instruction......0") == (
        "program interrupt: illegal instruction......<*>")
    assert mask_variables("prefetch depth.........12") == "prefetch depth.........<*>"
    assert mask_variables("wait... 5 s") == "wait... <*> s"
    assert mask_variables("illegal instruction......0", dot_leader=False) == "illegal <*>"


@pytest.mark.parametrize("date", [
    "Sun Jul 24 02:38:22 2005", "Fri Jul 01 08:16:53 PDT 2005", "2017-05-16 05:00:00", "2005-07-24T02:38:22.123+02:00",
    "Jul 26, 2005", "Jul  3 10:11:12", "24/Jul/2005:02:38:22 -0700", "Tue, 26 Jul 2005 09:00:01 +0200",
    "2016/9/27:20:30:31.455", "07/24/2005", "24.07.2005 14:02", "20171223-22:15:29:606", "3:04 PM", "02:38:22",
    "Monday, 3 January 2022", "17/06/09 20:10:40"])
def test_a_date_inside_a_message_is_one_variable(date: str) -> None:
    """Whatever its written form (weekday, month name, zone, year after the time), a date or a time inside a
    message is masked as one variable, so that the message keeps one shape whatever the day."""
    assert mask_variables(f"audit from {date} done") == "audit from <*> done"


def test_words_that_look_like_dates_alone_are_kept() -> None:
    assert mask_variables("May I retry on Monday") == "May I retry on Monday"
    assert mask_variables("expected Mon or Sun, got Jul") == "expected Mon or Sun, got Jul"


def test_an_empty_group_is_an_absent_value() -> None:
    """`()` beside `(host.example.org)`: the same optional group, absent; a call's empty parentheses are kept."""
    assert mask_variables("connection from 10.0.0.1 () at noon") == "connection from <*> (<*>) at noon"
    assert mask_variables("path [] threw") == "path [<*>] threw"
    assert mask_variables("Servlet.service() for servlet") == "Servlet.service() for servlet"


def test_an_id_is_masked_alike_whatever_its_sign() -> None:
    """blk_-857... and blk_402...: one kind of id; masked differently, a list of them split one statement by the
    signs of its ids."""
    assert mask_variables("delete blk_-8570780307468499817 blk_4029139044660806713") == "delete <*> <*>"
