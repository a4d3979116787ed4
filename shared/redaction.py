"""The one redaction boundary: secrets and personal data out of everything that leaves an incident.

Whatever reaches the report page, a webhook or an LLM prompt (findings, alerts, span names, audit-log request
fields, log lines) goes through here first. Each secret is replaced by a typed placeholder, `<redacted:KIND>`,
and only the secret: the key, the URL's scheme, user and host, the `Bearer` word, a PEM block's header and
footer stay, so an SRE can still read what the line was about.

- `redact_text(text)` masks one string.
- `redact_value(value)` masks every string in a JSON-like value (dicts, lists, tuples), recursively; a value
  held under a key that names a secret (`dbPassword`, `token`, `Authorization`, ...) is masked whole, whatever
  it looks like, because audit-log request fields carry bare secrets with nothing in the value to spot.
- `redact_finding(finding)` / `redact_alert(alert)` return masked copies of the domain models.

E-mail addresses: a service account's address (`...gserviceaccount.com`) is kept, because an SRE needs to see
which workload acted; every other address is a person's and becomes `<redacted:email>` whole (the domain of a
personal address can identify the person as well as its local part).

The rules fail closed. Context first: a credential-bearing context masks its value whatever its format: an
Authorization-like header with any scheme (a scheme word that is not a known one is masked with the credential),
`key=value` under a secret-naming key in plain, JSON, escaped or percent-encoded JSON and URL-encoded form,
command-line password flags (`mysql -pPW`, `redis-cli -a`, `curl -u user:PW`), connection strings (URL
credentials, `user/pw@host`, `Password=`), a docker config's `auth`, cookies. Then structure: PEM, PGP, PuTTY and
RFC 4716 key blocks, the documented prefixes of about a hundred providers' tokens (shared/secret_formats.py),
password hashes, webhook URLs, a bare `?key=`, cards by IIN and Luhn, e-mails in any script. Last, a backstop: a
long token that mixes cases and digits in short runs with high entropy (a token nobody listed, or a PEM body
logged one line per entry) goes too. Measured on tests/fixtures/secrets (248 formats from the format facts of
gitleaks, secretlint and detect-secrets; 335 benign log lines): 248/248 caught, 1 benign line changed (a
`pageToken` pagination cursor). Yelp's detect-secrets (1.5.0, `scan_line` with its default plugins) catches
242/248 but changes 319 of the 335 benign lines, and on top of these rules adds no catch, so there is no
dependency on it (tests/test_secret_corpus.py re-measures it where it is installed). A limit: a hex-only key body
logged one line per entry (an OpenVPN static key) cannot be told from a hash or a trace id. Every pattern is
bounded (no quadratic backtracking on a hostile line).
Deterministic and pure: the same input gives the same output, and redacting twice changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import islice
from typing import TYPE_CHECKING, Any

from shared.core_models import Alert
from shared.redaction_prefilter import literals_of, lowered, may_match
from shared.secret_formats import HASH_FORMATS, PROVIDER_FORMATS, WEBHOOK_FORMATS

if TYPE_CHECKING:  # findings are imported where one is redacted: an intake redacts alerts alone
    from shared.models import Finding

Placeholder = Callable[[str], str]


def typed_placeholder(kind: str) -> str:
    """The default replacement for a secret of one kind: `<redacted:KIND>`."""
    return f"<redacted:{kind}>"


_SHORT = {"email": "<EMAIL>", "card": "<CARD>", "private_key": "<PRIVATE_KEY>", "jwt": "<JWT>",
          "password": "<SECRET>", "secret": "<SECRET>", "cookie": "<TOKEN>"}


def short_placeholder(kind: str) -> str:
    """The compact labels of log templates and exemplars (agents.specialists.logs.masking): <SECRET>, <TOKEN>,
    <API_KEY>, <EMAIL>, <CARD>, <PRIVATE_KEY>, <JWT>. Short, so that a masked Drain template stays readable."""
    if kind in _SHORT:
        return _SHORT[kind]
    if kind.endswith("token"):
        return "<TOKEN>"
    return "<API_KEY>" if kind.endswith("key") else "<SECRET>"


# A value that is already a placeholder (ours, a legacy <SECRET>, or a log template's <*>) is left alone.
_PLACEHOLDER = r"<[\w:*.-]*>"

# --- rules ---------------------------------------------------------------------------------------------------
# Each rule names the kind of secret and a pattern; the group named `s` is the secret (the whole match when the
# pattern has none). Order matters: private-key blocks first (their bodies hold anything), then the specific
# token formats (so the placeholder says what it was), then the generic shapes.

class _Pattern:
    """A pattern compiled on its first use: compiling is most of what redaction costs a cold start, and most texts
    never reach most patterns (a pattern that runs only on a match of another, or behind a check of what the text
    holds)."""

    __slots__ = ("_compiled", "flags", "source")

    def __init__(self, source: str, flags: int = 0):
        self.source, self.flags = source, flags
        self._compiled: re.Pattern[str] | None = None

    @property
    def pattern(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.source, self.flags)
        return self._compiled


class _Rule(_Pattern):
    """A rule's kind and pattern, compiled on first use; it runs only on a text holding one of its literals
    (shared/redaction_prefilter.py), so most rules are never compiled in a process that redacts a few alerts."""

    __slots__ = ("kind", "literals")

    def __init__(self, kind: str, source: str, flags: int = 0):
        super().__init__(source, flags)
        self.kind = kind
        self.literals = literals_of(source, flags)


def _r(kind: str, pattern: str, flags: int = 0) -> _Rule:
    return _Rule(kind, pattern, flags)


# Keys whose value is a secret. Strong words may end any key (PGPASSWORD, dbPassword, x-auth-token, client_secret);
# weak ones only when they are the whole key or its last `_`/`-`/`.` part (DB_PASS, sig, JSESSIONID).
_STRONG_KEY = (r"(?:pass(?:wor)?d|passwd|passphrase|secret|token|credentials?|signature|authorization|"
               r"(?:client|private)[_-]?key[_-]?data|"
               r"api[_-]?key|(?:access|secret|private|account|shared[_-]?access|signing|encryption|master|client|"
               r"service|session|auth|license|subscription)[_-]?key)")
_WEAK_KEY = r"(?:pass|pwd|pw|sig|j?session[_-]?id|phpsessid|sid)"
_KEY = rf"(?:[\w.-]{{0,64}}?{_STRONG_KEY}|(?:[\w.-]{{0,64}}[_.-])?{_WEAK_KEY})"  # bounded: no quadratic scans
# A field (a dict key) that holds a secret: the same words, and cookies.
_FIELD_RE = _Pattern(rf"(?i)[\w.$@-]*?(?:{_STRONG_KEY}|cookie)|(?:[\w.$@-]*[_.-])?{_WEAK_KEY}")
# Words that say a secret was absent or bad, not what it was: "token: expired", "password=null".
_STATUS_WORDS = (r"(?:expired|invalid|missing|required|revoked|null|none|nil|true|false|yes|no|ok|empty|unset|"
                 r"redacted|hidden|\*+)")
_AUTH_SCHEMES = r"(?:bearer|basic|token|digest|negotiate|ntlm|apikey|key|sso-key|splunk|dsn)"

_RULES: list[_Rule] = [
    # PEM / PGP private keys: the body goes, BEGIN/END lines stay. A block cut short (an exemplar truncated at
    # 1,000 characters) is masked to the end of the text.
    _r("private_key", r"-----BEGIN (?P<h>[A-Za-z0-9 ]*(?:PRIVATE KEY(?: BLOCK)?|Static key V\d))-----(?P<s>.+?)"
       r"(?=-----END (?P=h)-----|\Z)", re.S),
    _r("private_key", r"---- BEGIN SSH2 (?P<h>[A-Z0-9 ]*KEY) ----(?P<s>.+?)(?=---- END SSH2 (?P=h) ----|\Z)", re.S),
    _r("private_key", r"PuTTY-User-Key-File-\d: [^\n]*\n(?P<s>.+?)(?=Private-MAC: |\Z)", re.S),
    # Well-known token formats (providers' documented prefixes), password hashes, webhook URLs.
    *(_r(kind, pattern) for kind, pattern in (*PROVIDER_FORMATS, *HASH_FORMATS, *WEBHOOK_FORMATS)),
    _r("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}"),
    _r("aws_access_key", r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
    _r("gcp_api_key", r"\bAIza[0-9A-Za-z_-]{30,}"),
    _r("gcp_oauth_token", r"\bya29\.[0-9A-Za-z_-]{20,}"),
    _r("gcp_refresh_token", r"(?<![\w/])1//0[0-9A-Za-z_-]{30,}"),
    _r("oauth_client_secret", r"\bGOCSPX-[0-9A-Za-z_-]{20,}"),
    _r("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})"),
    _r("gitlab_token", r"\bgl(?:pat|dt|rt|ptt|cbt|soat)-[0-9A-Za-z_-]{20,}"),
    _r("slack_token", r"\bxox[abposre]-[0-9A-Za-z-]{10,}|\bxapp-\d-[0-9A-Za-z-]{10,}"),
    _r("slack_webhook", r"\bhooks\.slack\.com/(?:services|workflows|triggers)/(?P<s>[0-9A-Za-z_/-]{20,})"),
    _r("stripe_key", r"\b(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{16,}|\bwhsec_[0-9A-Za-z]{16,}"),
    _r("api_key", r"\bsk-(?:ant-|proj-|svcacct-|admin-)?[0-9A-Za-z_-]{20,}"),  # OpenAI, Anthropic
    _r("npm_token", r"\bnpm_[0-9A-Za-z]{36}\b"),
    _r("pypi_token", r"\bpypi-AgE[0-9A-Za-z_-]{50,}"),
    _r("sendgrid_key", r"\bSG\.[0-9A-Za-z_-]{16,}\.[0-9A-Za-z_-]{16,}"),
    _r("twilio_key", r"\bSK[0-9a-fA-F]{32}\b"),
    _r("mailchimp_key", r"\b[0-9a-f]{32}-us\d{1,2}\b"),
    _r("telegram_token", r"(?<![\d:])\d{8,10}:AA[0-9A-Za-z_-]{33}(?![\w-])"),
    _r("vault_token", r"\bhv[sbr]\.[0-9A-Za-z_-]{24,}"),
    _r("digitalocean_token", r"\bdo[opr]_v1_[0-9a-f]{64}\b"),
    _r("shopify_token", r"\bshp(?:at|ss|ca|pa)_[0-9a-fA-F]{32}\b"),
    _r("square_token", r"\bsq0(?:atp|csp)-[0-9A-Za-z_-]{22,}"),
    _r("azure_client_secret", r"(?<![\w~.-])[0-9A-Za-z_~.-]{3}\dQ~[0-9A-Za-z_~.-]{31,34}(?![\w~.-])"),
    _r("discord_token", r"\b[MNO][0-9A-Za-z_-]{23,25}\.[0-9A-Za-z_-]{6}\.[0-9A-Za-z_-]{27,38}\b"),
    # Credentials in a URL: scheme://user:PASSWORD@host; the password may hold '/' and '@' (mysql://root:p@ss@h).
    _r("password", r"\b[A-Za-z][A-Za-z0-9+.-]{0,15}://[^\s:/@\"'<>]{0,256}:(?P<s>[^\s\"'<>]{1,256}?)"
       r"@(?=[^\s@/\"'<>?#]{1,256}(?:[/:?#\s\"'<>,;)\]}]|$))"),
    _r("token", r"(?i)\b(?:bearer|basic)\s+(?P<s>(?=[A-Za-z0-9._~+/-]*[0-9+/=._~-])[A-Za-z0-9._~+/-]{8,}=*)"),
    # Cookie / Set-Cookie headers: every value goes (cookie attributes stay), handled by _mask_cookies.
    _r("cookie", r"(?i)\b(?:set-)?cookie[\"']?\s*[:=]\s*(?P<s>[^\r\n\"]+)"),
    # key=value, key: value, "key": "value" under a key that names a secret.
    _r("secret", r"(?i)(?:(?<![\w.$-])|(?<=%5B))" + _KEY + r"(?:%5D|\])?(?:\\*[\"'])?\s*(?:=>|[:=](?!>))(?!=)\s*"
       r"(?![\"']?" + _AUTH_SCHEMES + r"\s)(?!(?:\\*[\"'])?" + _PLACEHOLDER + r")"
       r"(?!(?:\\*[\"'])?" + _STATUS_WORDS + r"(?=[\s,;.&)}\]\"'\\]|$))"
       r"(?P<s>\\+\"(?:[^\"\\]|\\(?!\\*\"))+\\+\"|\"[^\"]+\"|'[^']+'|(?![{\[\"'\\])[^\s,;&}\]\"')]+)"),
    # %22password%22%3A%22hunter2%22: a JSON body percent-encoded.
    _r("secret", r"(?i)%22" + _KEY + r"%22(?:%20|\+)*%3A(?:%20|\+)*%22(?P<s>[^%&\s]{1,256}(?:%(?!22)[0-9A-F]{2}"
       r"[^%&\s]{0,256}){0,16})"),
    # <password>hunter2</password>
    _r("secret", r"(?i)<(?P<k>" + _KEY + r")>(?P<s>[^<]+)</(?P=k)>"),
    # --password hunter2, --access-token X (command lines).
    _r("secret", r"(?i)(?<![\w-])--?" + _KEY + r"\s+(?P<s>(?!-)(?!" + _PLACEHOLDER + r")[^\s\"']+)"),
    # Command lines whose password flag is a short one: mysql -pPW, redis-cli -a PW, sshpass -p PW, curl -u user:PW,
    # smbclient -U user%PW, htpasswd -b FILE USER PW, docker login -p PW.
    _r("password", r"\b(?:mysql\w*|mariadb\w*)\b[^\n]{0,512}?\s-p(?P<s>'[^'\n]+'|\"[^\"\n]+\"|(?!" + _PLACEHOLDER +
       r")[^\s'\"]+)"),
    _r("password", r"\bredis-cli\b[^\n]{0,512}?\s-a\s+(?P<s>(?!" + _PLACEHOLDER + r")[^\s'\"]+)"),
    _r("password", r"\bsshpass\b[^\n]{0,128}?\s-p\s*(?P<s>(?!" + _PLACEHOLDER + r")[^\s'\"]+)"),
    _r("password", r"\b(?:curl|wget|http)\b[^\n]{0,512}?\s(?:-u|--user|--proxy-user|-U)[\s=]+['\"]?[^\s:'\"]{0,128}:"
       r"(?P<s>(?!" + _PLACEHOLDER + r")[^\s'\"]+)"),
    _r("password", r"\bsmbclient\b[^\n]{0,512}?\s-U\s+['\"]?[^\s%'\"]{0,128}%"
       r"(?P<s>(?!" + _PLACEHOLDER + r")[^\s'\"]+)"),
    _r("password", r"\bhtpasswd\b[^\n]{0,128}?\s-\w*b\w*\s+\S+\s+\S+\s+(?P<s>(?!" + _PLACEHOLDER + r")[^\s'\"]+)"),
    _r("password", r"\b(?:docker|podman|helm|oras|buildah|skopeo)\b[^\n]{0,64}?\blogin\b[^\n]{0,256}?\s-p\s+"
       r"(?P<s>(?!" + _PLACEHOLDER + r")[^\s'\"]+)"),
    # .netrc: machine HOST login USER password PW
    _r("password", r"(?i)\blogin\s+\S+\s+password\s+(?P<s>(?!" + _PLACEHOLDER + r")\S+)"),
    # user/password@host (Oracle's connect strings) and user:password@host without a scheme (proxy settings):
    # the host must read as one (a dotted name with a letter label, a port, or after a connect word).
    _r("password", r"(?<![\w./:@%-])(?!(?i:user|group|serviceaccount|domain|principal|member|mailto|deleted|sip|tel)"
       r"[:/])[A-Za-z_][\w.$-]{0,63}[:/](?P<s>(?!" + _PLACEHOLDER + r")[^\s:/@\"'<>]{1,128})@"
       r"(?=[A-Za-z0-9][\w-]{0,63}(?:\.[A-Za-z][\w-]{0,63})+(?::\d{2,5})?(?:/[\w.-]+)?(?:[\s\"',;)]|$)|"
       r"[A-Za-z0-9][\w.-]{0,63}:\d{2,5}(?:/[\w.-]+)?(?:[\s\"',;)]|$))"),
    _r("password", r"(?i)\b(?:sqlplus|sqlldr|expdp|impdp|exp|imp|rman|connect|conn|userid)\b[\s=\"']{1,8}"
       r"[A-Za-z_][\w.$-]{0,63}/(?P<s>(?!" + _PLACEHOLDER + r")[^\s:/@\"'<>]{1,128})@"),
    # A docker config's "auth" (base64 of user:password) and an .npmrc's _auth.
    _r("password", r"(?i)(?<![\w-])(?:\\*\")auth(?:\\*\")\s*:\s*(?:\\*\")"
       r"(?P<s>(?!" + _PLACEHOLDER + r")[A-Za-z0-9+/=_.:-]{4,})"),
    _r("password", r"(?i)(?<![\w-])_auth\s*=\s*(?P<s>(?!" + _PLACEHOLDER + r")\S+)"),
    # A bare `key=` in a URL's query (Google APIs, Google Chat webhooks, many others put an API key there).
    _r("api_key", r"(?i)[?&;](?:key|apikey|api-key|code|sas)=(?P<s>(?!" + _PLACEHOLDER + r")[^&\s#\"'<>]{6,})"),
]

# Local parts and domains in any script (jürgen.müller@beispiel.de, 张伟@例子.公司).
_EMAIL = _Pattern(r"(?<![\w.%+-])(?P<local>[\w.%+-]{1,128})@(?P<domain>[\w-]{1,63}(?:\.[\w-]{1,63}){0,8}"
                  r"\.[^\W\d_]{2,63})\b")
_KEEP_EMAIL_DOMAIN = _Pattern(r"(?i)(?:^|\.)gserviceaccount\.com$")
_KEEP_EMAIL_LOCAL = {"git"}  # git@github.com: an SSH remote, not a person
_CARD = _Pattern(r"(?<![\w.:/-])\d(?:[ -]?\d){12,18}(?![\w.:/-])")
_KEY_BEFORE = _Pattern(r"[\w.$@-]+$")
_COOKIE_PAIR = _Pattern(r"(?P<name>[^\s=;,]+)=(?P<value>[^;\s,]*)")
_COOKIE_ATTRIBUTES = {"path", "domain", "expires", "max-age", "samesite", "priority", "version", "comment"}


def _kind_of_key(key: str) -> str:
    k = key.lower()
    if "pass" in k or "pwd" in k or k.endswith("pw"):
        return "password"
    if "cookie" in k or "sess" in k or k.endswith("sid"):
        return "cookie"
    if "token" in k or "authorization" in k:
        return "token"
    if "key" in k or k.endswith("sig") or "signature" in k:
        return "api_key"
    return "secret"


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


_CARD_IIN = _Pattern(r"4\d{12}(?:\d{3})?|5[1-5]\d{14}|2(?:2[2-9]|[3-6]\d|7[01]|720)\d{12}|3[47]\d{13}|"
                     r"3(?:0[0-5]|[68]\d)\d{11}|6(?:011|5\d\d)\d{12}|35(?:2[89]|[3-8]\d)\d{12}")


_ID_KEY_BEFORE = _Pattern(r"(?:\b|_)(?:id|ID|Id|no|num|number|seq|offset|ts|ns|ms)[\"']?\s*[:=]\s*[\"']?$")


def _is_card(m: re.Match[str]) -> bool:
    """A payment card: a known issuer prefix, that issuer's length, and the Luhn check; not the value of an id
    (event_id=4648493217815452). Ids, epoch times and nanosecond counters mostly fail one of these."""
    digits = re.sub(r"\D", "", m.group(0))
    if _ID_KEY_BEFORE.pattern.search(m.string, max(0, m.start() - 24), m.start()):
        return False
    return bool(_CARD_IIN.pattern.fullmatch(digits)) and _luhn(digits)


def _mask_cookies(header: str, ph: Placeholder) -> str:
    def one(m: re.Match[str]) -> str:
        name, value = m.group("name"), m.group("value")
        if not value or name.lower() in _COOKIE_ATTRIBUTES or re.fullmatch(_PLACEHOLDER, value):
            return m.group(0)
        return f"{name}={ph('cookie')}"

    return _COOKIE_PAIR.pattern.sub(one, header)


def rule_sources() -> list[tuple[str, int]]:
    """Every rule's pattern and flags (shared/redaction_prefilter.py derives their literals from these)."""
    return [(rule.source, rule.flags) for rule in _RULES]


def _apply_rules(rules: list[_Rule], text: str, ph: Placeholder, prefilter: bool = True) -> str:
    """Each rule in turn, on the text as the rules before it left it; a rule that cannot match it is skipped."""
    low = lowered(text) if prefilter else None
    for rule in rules:
        if not may_match(rule.literals, low):
            continue
        masked = _apply(rule, text, ph)
        if masked != text:
            text = masked
            low = lowered(text) if prefilter else None
    return text


def _apply(rule: _Rule, text: str, ph: Placeholder) -> str:
    kind, pattern = rule.kind, rule.pattern

    def repl(m: re.Match[str]) -> str:
        if "s" not in pattern.groupindex:
            return ph(kind)
        start, end = m.span("s")
        secret = m.group("s")
        if kind == "cookie":
            masked = _mask_cookies(secret, ph)
        elif kind == "secret":  # key=value: the key says what it was; quotes stay
            key = _KEY_BEFORE.pattern.search(m.group(0)[:start - m.start()].rstrip("\\\"' \t:=>"))
            if key and re.fullmatch(r"(?i)(?:proxy-)?authorization", key.group(0)):
                return m.group(0)  # the header's own rule (_mask_authorization) keeps the scheme word
            masked = ph(_kind_of_key(key.group(0)) if key else kind)
            quote = re.match(r"\\*[\"']", secret)
            if quote and len(secret) > 2 * len(quote.group(0)) and secret.endswith(quote.group(0)):
                masked = quote.group(0) + masked + quote.group(0)
        else:
            masked = ph(kind)
        whole = m.group(0)
        return whole[:start - m.start()] + masked + whole[end - m.start():]

    return pattern.sub(repl, text)


def _mask_email(m: re.Match[str], ph: Placeholder) -> str:
    if _KEEP_EMAIL_DOMAIN.pattern.search(m.group("domain")) or m.group("local").lower() in _KEEP_EMAIL_LOCAL:
        return m.group(0)
    return ph("email")


# Authorization-like headers: whatever the scheme, the credential goes. A known scheme word stays: one that takes
# a single token (Bearer, SSWS, ...) keeps the rest of the line, any other known one (Digest, Hawk, AWS4-HMAC-SHA256)
# is masked to the end of its value (the closing quote, or the end of the line). A word that is not a known scheme
# may itself be the credential, so the whole value goes.
_AUTH_HEADER = _Pattern(r"(?i)\b(?:(?:proxy-)?authorization|x-[a-z-]{0,40}auth)(?:\\*[\"'])?\s*[:=]\s*"
                        r"(?P<q>\\*[\"'])?")
_ONE_TOKEN_SCHEMES = {"bearer", "basic", "token", "negotiate", "ntlm", "kerberos", "apikey", "api-key", "key",
                      "sso-key", "splunk", "dsn", "ssws", "sharedkey", "sharedkeylite", "geniekey", "klaviyo-api-key",
                      "bot", "jwt", "pat", "dpop", "privatetoken", "concealed", "vapid", "aws", "otp"}
_PARAM_SCHEMES = {"digest", "hawk", "oauth", "mac", "googlelogin", "aws4-hmac-sha256", "scram-sha-1", "scram-sha-256",
                  "mutual", "hoba", "gnap", "signature", "sentry", "x-amz-security-token"}
_SCHEME = _Pattern(r"(?P<scheme>[A-Za-z][\w.-]{0,63})(?P<gap>\s+)(?P<rest>\S.*)", re.S)
_PLACEHOLDER_RE = _Pattern(_PLACEHOLDER)


def _value_end(text: str, start: int, quote: str | None) -> int:
    """Where a header value that starts at `start` ends: at its closing quote (as escaped as the opening one), or
    at the end of the line."""
    if quote:
        i = start
        while True:
            j = text.find(quote, i)
            if j < 0:
                break
            if not quote.startswith("\\") and j > 0 and text[j - 1] == "\\":
                i = j + 1  # an escaped quote inside the value
                continue
            if quote.startswith("\\") and j > 0 and text[j - 1] == "\\":
                i = j + 1  # an escaped quote one level deeper
                continue
            return j
    end = len(text)
    for stop in ("\n", "\r"):
        k = text.find(stop, start)
        if 0 <= k < end:
            end = k
    return end


def _mask_authorization(text: str, ph: Placeholder) -> str:
    out, last = [], 0
    for m in _AUTH_HEADER.pattern.finditer(text):
        if m.start() < last:
            continue
        start, end = m.end(), _value_end(text, m.end(), m.group("q"))
        value = text[start:end]
        stripped = value.strip()
        if not stripped or _PLACEHOLDER_RE.pattern.fullmatch(stripped) \
                or re.fullmatch(rf"(?i){_STATUS_WORDS}", stripped):
            continue
        parts = _SCHEME.pattern.match(value)
        scheme = parts.group("scheme").lower() if parts else ""
        if _PLACEHOLDER_RE.pattern.match(value.lstrip()) \
                or (parts and _PLACEHOLDER_RE.pattern.match(parts.group("rest")) \
                and scheme in _ONE_TOKEN_SCHEMES | _PARAM_SCHEMES):
            continue  # masked already
        if parts is None or scheme not in _ONE_TOKEN_SCHEMES | _PARAM_SCHEMES:
            masked = ph("token")
        else:
            rest = parts.group("rest")
            token = re.match(r"[^\s,;]+", rest)
            if scheme in _ONE_TOKEN_SCHEMES and token and not m.group("q"):
                rest = ph("token") + rest[token.end():]
            else:
                rest = ph("token")
            masked = parts.group("scheme") + parts.group("gap") + rest
        out += [text[last:start], masked]
        last = end
    return "".join(out) + text[last:] if out else text


# A long random-looking token (letters of both cases and digits, high entropy) that no rule above named: most
# likely a credential, so it goes. The cost is an odd opaque id; the gain is the formats nobody listed.
_OPAQUE = _Pattern(r"(?<![\w+/=.~$-])[A-Za-z0-9_+/=~-]{32,1024}(?![\w+/=.~$-])")


def _entropy(token: str) -> float:
    from collections import Counter
    from math import log2

    counts, n = Counter(token), len(token)
    return -sum(c / n * log2(c / n) for c in counts.values())


_NOT_SECRET_BEFORE = _Pattern(r"(?i)(?:\b(?:sha\d+|md5)[:=]|\b(?:ssh|ecdsa|sk-ssh|sk-ecdsa)-[\w@.-]+\s+)$")


_RUNS = _Pattern(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")


def _is_opaque_secret(m: re.Match[str]) -> bool:
    """A fingerprint (SHA256:...) or an SSH public key after its type is public, not a credential."""
    token = m.group(0)
    if _NOT_SECRET_BEFORE.pattern.search(m.string, max(0, m.start() - 48), m.start()):
        return False
    if not (any(c.isupper() for c in token) and any(c.islower() for c in token)
            and sum(c.isdigit() for c in token) >= 2):
        return False
    # random text breaks into short runs of one case or of digits ("wr", "LN", "t9"); an identifier or a path
    # (ConcurrentHashMapNode12, /api/v1/Users/OrderHistory) into words
    runs = _RUNS.pattern.findall(token)
    return bool(runs) and len("".join(runs)) / len(runs) <= 2.6 and _entropy(token) >= 4.2


def redact_text(text: str, *, placeholder: Placeholder = typed_placeholder, names: frozenset[str] = frozenset(),
                prefilter: bool = True) -> str:
    """Replace each secret in `text` with a typed placeholder, `<redacted:KIND>`, keeping what is not secret.

    `placeholder` maps a kind (password, token, api_key, private_key, email, card, ...) to its replacement.
    `names` are resource names (services, instances) the telemetry itself identified its sources by: where one
    reads like an e-mail address (`db@host.example.com`), it is a name, not a person's address, and is kept from the
    e-mail rule (every other rule still applies). `prefilter=False` runs every rule, whatever the text holds (the
    tests compare both).
    """
    if not text:
        return text
    text = _apply_rules(_RULES[:1], text, placeholder, prefilter)  # private-key blocks first: their bodies hold
    low = lowered(text) if prefilter else None                      # anything
    if low is None or "auth" in low:  # what every match of the header's pattern holds (an ASCII text, lower-cased)
        text = _mask_authorization(text, placeholder)
    text = _apply_rules(_RULES[1:], text, placeholder, prefilter)
    # The generic shapes, each only on a text that can hold one: a token of 32 characters, an @, 13 digits.
    if not prefilter or len(text) >= 32:
        text = _OPAQUE.pattern.sub(lambda m: placeholder("token") if _is_opaque_secret(m) else m.group(0), text)
    if not prefilter or "@" in text:
        kept = [(m.start(), m.end()) for n in names if "@" in n for m in re.finditer(re.escape(n), text)]
        text = _EMAIL.pattern.sub(lambda m: m.group(0) if any(a <= m.start() and m.end() <= b for a, b in kept)
                                  else _mask_email(m, placeholder), text)
    if not prefilter or next(islice(filter(str.isdigit, text), 12, None), None) is not None:  # 13 digits
        # (isdigit: every \d and more; the count stops at the 13th)
        text = _CARD.pattern.sub(lambda m: placeholder("card") if _is_card(m) else m.group(0), text)
    return text


def is_secret_key(key: str) -> bool:
    """Whether a field named `key` holds a secret (dbPassword, client_secret, X-Auth-Token, AccountKey, ...)."""
    return bool(_FIELD_RE.pattern.fullmatch(key))


def redact_value(value: Any, *, placeholder: Placeholder = typed_placeholder,
                 names: frozenset[str] = frozenset()) -> Any:
    """A copy of a JSON-like value with every string redacted, dict keys too. A scalar (or every scalar inside a
    container) held under a secret-naming key is replaced whole: `{"dbPassword": "x"}` -> `{"dbPassword": "<...>"}`.
    `names` as in redact_text."""
    return _walk(value, "", placeholder, names)


def _walk(value: Any, key: str, ph: Placeholder, names: frozenset[str]) -> Any:
    if key and is_secret_key(key):
        return _mask_all(value, _kind_of_key(key), ph)
    if isinstance(value, str):
        return redact_text(value, placeholder=ph, names=names)
    if isinstance(value, dict):
        return {(redact_text(k, placeholder=ph, names=names) if isinstance(k, str) else k):
                _walk(v, k if isinstance(k, str) else "", ph, names) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [_walk(v, "", ph, names) for v in value]
        return items if isinstance(value, list) else tuple(items)
    return value


def _mask_all(value: Any, kind: str, ph: Placeholder) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return value if not value or re.fullmatch(_PLACEHOLDER, value) or re.fullmatch(
            rf"(?i){_STATUS_WORDS}", value) else ph(kind)
    if isinstance(value, int | float):
        return ph(kind)
    if isinstance(value, dict):
        return {k: _mask_all(v, kind, ph) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [_mask_all(v, kind, ph) for v in value]
        return items if isinstance(value, list) else tuple(items)
    return value


# Identifiers the pipeline joins on; nothing secret can be in them (they are made by us or by Cloud Monitoring).
_FINDING_IDS = {"finding_id", "specialist", "kind"}
_ALERT_IDS = {"monitoring_incident_id", "state"}


def redact_finding(finding: Finding, *, placeholder: Placeholder = typed_placeholder) -> Finding:
    """A copy of `finding` with every string redacted: title, service, resource, query, exemplars, widget data,
    details, recursively (dict keys too). finding_id, specialist and kind are kept as they are."""
    from shared.models import Finding

    data = finding.model_dump()
    names = frozenset(_resource_names(finding))
    out = {k: v if k in _FINDING_IDS else redact_value(v, placeholder=placeholder, names=names)
           for k, v in data.items()}
    return Finding.model_validate(out)


def _resource_names(finding: Finding) -> list[str]:
    """The names the telemetry identified its sources by: the finding's service and resource, and the services at
    either end of the graph's edges (a topology finding)."""
    from shared.finding_details import TopologyDetails  # a finding's details are its kind's: imported with it

    edges = finding.details.edges if isinstance(finding.details, TopologyDetails) else []
    ends = [n for caller, callee, _ in edges for n in (caller, callee)]
    return [n for n in (finding.service, finding.resource, *ends) if n]


def redact_alert(alert: Alert, *, placeholder: Placeholder = typed_placeholder) -> Alert:
    """A copy of `alert` with every string redacted: summary, documentation, url, policy and condition names,
    resource and metric labels, user labels. monitoring_incident_id and state are kept as they are, and so is the
    alerting resource's own name (`checkout@prod.example.com` names a service, not a person). Group an alert
    into its incident before redacting it: a label that holds a secret changes its group_key."""
    data = alert.model_dump()
    names = frozenset(n for n in (alert.service, alert.resource_name) if n)  # names, not people's addresses
    out = {k: v if k in _ALERT_IDS else redact_value(v, placeholder=placeholder, names=names) for k, v in data.items()}
    return Alert.model_validate(out)
