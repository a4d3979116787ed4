"""The redaction boundary: no secret of the corpus survives, benign log lines stay as they were.

tests/fixtures/secrets_corpus.jsonl: 80 generated fake secrets in real formats, one JSON object a line:
{"kind", "secret": [values that must not survive], "text"}. tests/fixtures/benign_corpus.txt: 227 real-looking
log lines (Java and Python traces, access logs, k8s events, Cloud Run and audit lines, ids, hashes, service-account
addresses) with no secret in them. Measured with shared.redaction: 80/80 secrets caught, 1/227 benign lines
changed (a `pageToken=` pagination cursor, masked because the key names a token).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from shared.core_models import Alert
from shared.models import Finding, Widget
from shared.redaction import (
    is_secret_key,
    redact_alert,
    redact_finding,
    redact_text,
    redact_value,
    short_placeholder,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SECRETS: list[dict[str, Any]] = [json.loads(line) for line in
                                 (FIXTURES / "secrets_corpus.jsonl").read_text().splitlines() if line.strip()]
BENIGN = [line for line in (FIXTURES / "benign_corpus.txt").read_text().splitlines()
          if line and not line.startswith("# ")]
OVER_MASKED_BOUND = 1  # measured: 1 of 227 (the pageToken cursor)
PLACEHOLDER = re.compile(r"<redacted:[a-z_]+>")


def test_the_corpora_are_large_enough() -> None:
    assert len(SECRETS) >= 50 and len(BENIGN) >= 200
    kinds = {e["kind"] for e in SECRETS}
    for kind in ("url_password", "token", "cookie", "github_token", "azure_key", "password", "private_key",
                 "oauth_client_secret", "aws_key", "gcp_api_key", "jwt", "slack_token", "stripe_key", "email"):
        assert kind in kinds


@pytest.mark.parametrize("entry", SECRETS, ids=[f"{i:02d}-{e['kind']}" for i, e in enumerate(SECRETS)])
def test_no_secret_survives(entry: dict[str, Any]) -> None:
    out = redact_text(entry["text"])
    for secret in entry["secret"]:
        assert secret not in out, out
    assert PLACEHOLDER.search(out), out
    assert redact_text(out) == out  # idempotent


def test_benign_lines_are_left_alone() -> None:
    over = [(line, redact_text(line)) for line in BENIGN if redact_text(line) != line]
    print(f"over-masked {len(over)}/{len(BENIGN)}: {over}")
    assert len(over) <= OVER_MASKED_BOUND, over


@pytest.mark.parametrize(("text", "expected"), [
    ("redis://:S3cretRedis@redis-master:6379/0", "redis://:<redacted:password>@redis-master:6379/0"),
    ("postgres://orders:pa/ss9x@db.internal:5432/orders",
     "postgres://orders:<redacted:password>@db.internal:5432/orders"),
    ("mysql://root:p@ss@mysql-0:3306/shop", "mysql://root:<redacted:password>@mysql-0:3306/shop"),
    ("Authorization: Token 9a60a077bbd142880e84", "Authorization: Token <redacted:token>"),
    ("Authorization: Bearer abcdefghijklmnop", "Authorization: Bearer <redacted:token>"),
    ("Cookie: sessionid=qsohgr9d5ide; csrftoken=hgshd0vlh5",
     "Cookie: sessionid=<redacted:cookie>; csrftoken=<redacted:cookie>"),
    ("Set-Cookie: sid=abc123; Path=/; HttpOnly", "Set-Cookie: sid=<redacted:cookie>; Path=/; HttpOnly"),
    ("push with github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123",
     "push with <redacted:github_token>"),
    ("AccountName=acme;AccountKey=Ft1ptJ4TyNimSBIf0Pbefib0FaA/TUBzw==;EndpointSuffix=core.windows.net",
     "AccountName=acme;AccountKey=<redacted:api_key>;EndpointSuffix=core.windows.net"),
    ("DB_USER=app DB_PASS=91zkIRlDb9 DB_NAME=orders", "DB_USER=app DB_PASS=<redacted:password> DB_NAME=orders"),
    ("-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBGZ\n=abcd\n-----END PGP PRIVATE KEY BLOCK-----",
     "-----BEGIN PGP PRIVATE KEY BLOCK-----<redacted:private_key>-----END PGP PRIVATE KEY BLOCK-----"),
    ('{"client_secret": "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"}', '{"client_secret": "<redacted:oauth_client_secret>"}'),
    ('{"name": "app", "dbPassword": "hunter2!"}', '{"name": "app", "dbPassword": "<redacted:password>"}'),
    ("webhook called with token=0123abcd from 10.0.0.3", "webhook called with token=<redacted:token> from 10.0.0.3"),
    ("mysqladmin --user=root --password hunter2 status",
     "mysqladmin --user=root --password <redacted:password> status"),
    ("<password>hunter2</password>", "<password><redacted:password></password>"),
])
def test_only_the_secret_is_replaced(text: str, expected: str) -> None:
    """The key, scheme, user, host and the auth scheme word stay: an SRE still reads what the line was about."""
    assert redact_text(text) == expected


def test_service_accounts_stay_and_people_go() -> None:
    """Which workload acted matters to an SRE, so service-account addresses stay; a person's address goes whole."""
    text = ("ReplaceService checkout by deploy-bot@acme-prod.iam.gserviceaccount.com, "
            "123456789012-compute@developer.gserviceaccount.com, then by user:jane.doe@acme-corp.com")
    assert redact_text(text) == ("ReplaceService checkout by deploy-bot@acme-prod.iam.gserviceaccount.com, "
                                 "123456789012-compute@developer.gserviceaccount.com, then by user:<redacted:email>")
    assert redact_text("ssh: git@github.com: Permission denied") == "ssh: git@github.com: Permission denied"


def test_status_words_and_placeholders_are_not_secrets() -> None:
    for text in ("token: expired", "password=null, rejecting", "password=<*> for user <*>", "secret=<SECRET>"):
        assert redact_text(text) == text


def test_cards_need_an_issuer_prefix_and_luhn() -> None:
    assert redact_text("charge card=4111111111111111 ok") == "charge card=<redacted:card> ok"
    assert redact_text("order 1674987944526098861 took 350 ms") == "order 1674987944526098861 took 350 ms"
    assert redact_text("event_id=4648493217815452") == "event_id=4648493217815452"  # an id, though it passes Luhn


def test_short_placeholders_for_log_templates() -> None:
    assert redact_text("mail bob@example.com", placeholder=short_placeholder) == "mail <EMAIL>"
    assert redact_text("password=x", placeholder=short_placeholder) == "password=<SECRET>"
    assert redact_text("key AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", placeholder=short_placeholder) == "key <API_KEY>"
    assert redact_text("Bearer ya29.a0AfH6SMBx3kLq9RZ8Yc1T7oPq", placeholder=short_placeholder) == "Bearer <TOKEN>"


def test_secret_keys() -> None:
    for key in ("dbPassword", "rootPassword", "password", "client_secret", "X-Auth-Token", "AccountKey", "DB_PASS",
                "sig", "Cookie", "Authorization", "api_key", "PGPASSWORD", "JSESSIONID"):
        assert is_secret_key(key), key
    for key in ("token_count", "max_tokens", "passed", "bypass", "password_reset_requested", "secret_name", "key",
                "service", "principalEmail", "SharedAccessKeyName"):
        assert not is_secret_key(key), key


def test_values_under_secret_keys_are_masked_whole() -> None:
    """Audit-log request fields carry bare secrets: nothing in "hunter2" says it is one, its key does."""
    request = {"@type": "type.googleapis.com/google.cloud.sql.v1.User", "name": "app", "dbPassword": "hunter2",
               "settings": {"rootPassword": 123456, "tier": "db-custom-2-7680", "enabled": True},
               "credentials": {"user": "svc", "pin": "0000"}, "token": None, "passwordExpired": False}
    out = redact_value(request)
    assert out["dbPassword"] == "<redacted:password>" and out["settings"]["rootPassword"] == "<redacted:password>"
    assert out["settings"]["tier"] == "db-custom-2-7680" and out["settings"]["enabled"] is True
    assert out["credentials"] == {"user": "<redacted:secret>", "pin": "<redacted:secret>"}
    assert out["token"] is None and out["name"] == "app"
    assert request["dbPassword"] == "hunter2"  # a copy: the input is not touched


def _leaky_finding() -> Finding:
    return Finding(
        finding_id="changes-sql-1", specialist="changes", kind="change.config", service="orders-db",
        title="cloudsql users.update by jane.doe@acme-corp.com with token=0123abcd",
        query={"source": "audit", "filter": "protoPayload.request.dbPassword=hunter2"},
        exemplars=[{"line": "connect postgres://app:s3cr3tPass@10.0.0.5:5432/orders", "span": "GET /login?pw=x1"},
                   {"request": {"dbPassword": "hunter2", "name": "app"}}],
        widget=Widget(kind="table", title="requests", data={"rows": [["Authorization: Bearer ya29.a0AfH6SMBx3kLq9R"]]}),
        details={"principal": "jane.doe@acme-corp.com", "actor": "deploy@p.iam.gserviceaccount.com",
                 "nested": [{"Cookie": "sessionid=abc"}, ("AKIAIOSFODNN7EXAMPLE",)], "count": 3, "score": 0.5},
    )


def test_redact_finding_reaches_every_string() -> None:
    finding = _leaky_finding()
    out = redact_finding(finding)
    text = json.dumps(out.model_dump(), default=str)
    for secret in ("hunter2", "jane.doe", "0123abcd", "s3cr3tPass", "x1\"", "a0AfH6SMBx3kLq9R", "sessionid=abc",
                   "AKIAIOSFODNN7EXAMPLE"):
        assert secret not in text, secret
    assert out.finding_id == "changes-sql-1" and out.kind == "change.config" and out.service == "orders-db"
    assert out.details.actor == "deploy@p.iam.gserviceaccount.com" and out.details.count == 3
    assert out.exemplars[1]["request"] == {"dbPassword": "<redacted:password>", "name": "app"}
    assert out.title == "cloudsql users.update by <redacted:email> with token=<redacted:token>"
    assert "hunter2" in json.dumps(finding.model_dump())  # the original is left as it was
    assert redact_finding(out) == out


def test_redact_alert() -> None:
    alert = Alert(monitoring_incident_id="0.nk3qz2l0h8y4", policy_name="checkout 5xx", summary=(
        "5xx on checkout; repro: curl -H 'Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl'"),
        documentation="Runbook: connect with mysql://root:p@ss@mysql-0:3306/shop, page oncall.lead@acme-corp.com",
        url="https://admin:hunter2@console.example.com/incidents/1",
        resource_labels={"service_name": "checkout", "api_key": "abc123"}, metric_labels={"response_code": "500"},
        policy_user_labels={"owner": "jane.doe@acme-corp.com"}, observed_value=0.12)
    out = redact_alert(alert)
    text = json.dumps(out.model_dump())
    for secret in ("eyJhbGciOiJSUzI1NiJ9", "p@ss", "oncall.lead", "hunter2", "abc123", "jane.doe"):
        assert secret not in text, secret
    assert out.monitoring_incident_id == alert.monitoring_incident_id and out.service == "checkout"
    assert out.metric_labels == {"response_code": "500"} and out.observed_value == 0.12
    assert out.url == "https://admin:<redacted:password>@console.example.com/incidents/1"
    plain = alert.model_copy(update={"resource_labels": {"service_name": "checkout", "zone": "us-central1-a"}})
    assert redact_alert(plain).group_key() == plain.group_key()  # nothing secret in the labels: the same incident


def test_detect_secrets_measures_worse_on_this_corpus() -> None:
    """Why there is no dependency on Yelp's detect-secrets: its plugins (regexes run directly, keyword detector in
    every file-type mode, no entropy or IP plugin, which flag most log words and every IP) catch 42/80 of the corpus
    (no URL passwords with '/' or '@', Authorization Token, cookies, github_pat_, GOCSPX-, AIza, PEM bodies,
    e-mails, cards) and add no catch on top of these rules. Runs only where the package is installed."""
    pytest.importorskip("detect_secrets")
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin
    from detect_secrets.plugins.ip_public import IPPublicDetector
    from detect_secrets.plugins.keyword import (
        CONFIG_DENYLIST_REGEX_TO_GROUP,
        GOLANG_DENYLIST_REGEX_TO_GROUP,
        QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP,
        KeywordDetector,
    )

    plugins = [cls() for cls in get_mapping_from_secret_type_to_class().values()
               if not issubclass(cls, HighEntropyStringsPlugin | IPPublicDetector)]

    def library(text: str) -> str:
        values: set[str] = set()
        for line in text.splitlines():
            for plugin in plugins:
                if isinstance(plugin, KeywordDetector):
                    for groups in (CONFIG_DENYLIST_REGEX_TO_GROUP, QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP,
                                   GOLANG_DENYLIST_REGEX_TO_GROUP):
                        values.update(plugin.analyze_string(line, denylist_regex_to_group=groups))
                else:
                    values.update(plugin.analyze_string(line))
        for value in sorted((v for v in values if v), key=len, reverse=True):
            text = text.replace(value, "<redacted:secret>")
        return text

    def caught(redact: Any) -> int:
        return sum(all(s not in redact(e["text"]) for s in e["secret"]) for e in SECRETS)

    lib, ours = caught(library), caught(redact_text)
    both = caught(lambda t: library(redact_text(t)))
    print(f"detect-secrets {lib}/{len(SECRETS)}, ours {ours}/{len(SECRETS)}, both {both}/{len(SECRETS)}")
    assert lib < ours == both == len(SECRETS)


@pytest.mark.parametrize("text", ["a." * 10000 + "@", "http://a:b" * 3000, "x_password=" * 3000,
                                  "Cookie: " + "a=b; " * 4000, "--password " * 3000, "<password>" * 3000, "4 " * 10000])
def test_no_quadratic_backtracking(text: str) -> None:
    """Every pattern is bounded: a hostile 20-40k character line is redacted in well under a second."""
    start = time.perf_counter()
    redact_text(text)
    assert time.perf_counter() - start < 1.0
