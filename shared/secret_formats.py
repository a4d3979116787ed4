"""Token formats with a documented prefix or shape, one rule each: the structured half of shared/redaction.py.

Each entry is (kind, pattern); the whole match is the secret. The prefixes and lengths are the providers' own,
as public rule sets record them (gitleaks' rules, secretlint's presets, detect-secrets' plugins). A prefix that is
short or a common word needs its documented length and alphabet after it, so ordinary words stay. Patterns are
bounded: no nested repetition, so a hostile line costs linear time.
"""

from __future__ import annotations

_W = r"[A-Za-z0-9_-]"  # URL-safe base64 / token alphabet
_B = r"[A-Za-z0-9+/]"  # base64

PROVIDER_FORMATS: list[tuple[str, str]] = [
    ("huggingface_token", r"\b(?:hf_|api_org_)[A-Za-z]{34}\b"),
    ("grafana_token", r"\bglsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}\b|\bglc_[A-Za-z0-9+/]{32,400}={0,2}|"
                      r"\beyJrIjoi[A-Za-z0-9]{70,400}={0,2}"),
    ("databricks_token", r"\bdapi[a-f0-9]{32}(?:-\d)?\b"),
    ("newrelic_key", r"\bNR(?:AK|II|JS|RA|AA)-[A-Za-z0-9_-]{19,40}\b"),
    ("atlassian_token", r"\bATATT3[A-Za-z0-9_=-]{150,250}"),
    ("docker_token", r"\bdckr_(?:pat|oat)_[A-Za-z0-9_-]{27,}"),
    ("age_secret_key", r"\bAGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}\b"),
    ("gitlab_token", r"\bgl(?:ft|imt|agent|oas|soat|cbt|pat|dt|rt|ptt)-[0-9A-Za-z_-]{20,}|"
                     r"\bGR1348941[A-Za-z0-9_-]{20}"),
    ("rubygems_token", r"\brubygems_[a-f0-9]{48}\b"),
    ("clojars_token", r"\bCLOJARS_[a-z0-9]{60}\b"),
    ("nuget_key", r"\boy2[a-z0-9]{43}\b"),
    ("mailgun_key", r"\b(?:key|pubkey)-[a-f0-9]{32}\b"),
    ("doppler_token", r"\bdp\.(?:pt|st|ct|sa|scim|audit)\.[A-Za-z0-9]{40,44}\b"),
    ("dynatrace_token", r"\bdt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}\b"),
    ("easypost_token", r"\bEZ[AT]K[A-Za-z0-9]{54}\b"),
    ("flutterwave_key", r"\bFLW(?:SECK|PUBK)_TEST-[a-h0-9]{32}-X\b|\bFLWSECK-[a-h0-9]{32}-X\b"),
    ("frameio_token", rf"\bfio-u-{_W}{{64}}"),
    ("linear_key", r"\blin_(?:api|oauth)_[A-Za-z0-9]{40}\b"),
    ("planetscale_token", r"\bpscale_(?:tkn|pw|oauth)_[A-Za-z0-9=._-]{32,64}"),
    ("postman_token", r"\bPMAK-[a-f0-9]{24}-[a-f0-9]{34}\b"),
    ("prefect_token", r"\bpnu_[A-Za-z0-9]{36}\b"),
    ("pulumi_token", r"\bpul-[a-f0-9]{40}\b"),
    ("readme_token", r"\brdme_[a-z0-9]{70}\b"),
    ("scalingo_token", rf"\btk-us-{_W}{{48}}"),
    ("shippo_token", r"\bshippo_(?:live|test)_[a-f0-9]{40}\b"),
    ("square_token", r"\bEAAA[A-Za-z0-9+=_-]{60}"),
    ("terraform_token", rf"\b[a-z0-9]{{14}}\.atlasv1\.{_W}{{60,70}}"),
    ("typeform_token", r"\btfp_[A-Za-z0-9._=-]{59}"),
    ("yandex_key", rf"\bAQVN{_W}{{35,38}}|\bt1\.[A-Za-z0-9_-]+={{0,2}}\.{_W}{{86}}={{0,2}}|\bYC{_W}{{38}}(?!{_W})"),
    ("alibaba_key", r"\bLTAI[A-Za-z0-9]{20}\b"),
    ("tencent_key", r"\bAKID[A-Za-z0-9]{32}\b"),
    ("scaleway_key", r"\bSCW[A-Z0-9]{17}\b"),
    ("adobe_secret", r"\bp8e-[A-Za-z0-9]{32}\b"),
    ("airtable_token", r"\bpat[A-Za-z0-9]{14}\.[a-f0-9]{64}\b"),
    ("artifactory_token", r"\bAKCp[A-Za-z0-9]{69}\b|\bcmVmdGtu[A-Za-z0-9]{56}\b"),
    ("beamer_token", rf"\bb_{_W}{{44}}(?!{_W})"),
    ("cloudflare_key", r"\bv1\.0-[a-f0-9]{24}-[a-f0-9]{146}\b"),
    ("defined_networking_token", rf"\bdnkey-{_W}{{26}}-{_W}{{52}}"),
    ("duffel_token", rf"\bduffel_(?:test|live)_{_W}{{43}}"),
    ("dropbox_token", rf"\bsl\.{_W}{{130,140}}"),
    ("facebook_token", r"\bEAA[MC][A-Za-z0-9]{100,}"),
    ("flyio_token", rf"\bfo1_{_W}{{43}}|\bfm[12][ar]?_{_B}{{100,}}={{0,3}}"),
    ("harness_token", r"\bpat\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}\b"),
    ("heroku_key", rf"\bHRKU-AA{_W}{{58}}"),
    ("infracost_key", r"\bico-[A-Za-z0-9]{32}\b"),
    ("intra42_secret", r"\bs-s4t2(?:ud|af)-[a-f0-9]{64}\b"),
    ("mapbox_token", r"\b[sp]k\.eyJ1Ijoi[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}\b"),
    ("octopus_key", r"\bAPI-[A-Z0-9]{26}\b"),
    ("onepassword_token", rf"\bops_eyJ{_B}{{250,}}={{0,3}}"),
    ("openshift_token", rf"\bsha256~{_W}{{43}}"),
    ("perplexity_key", r"\bpplx-[A-Za-z0-9]{48}\b"),
    ("plaid_token", r"\baccess-(?:sandbox|development|production)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                    r"[0-9a-f]{12}\b"),
    ("sendinblue_key", r"\bxkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}\b"),
    ("sentry_token", r"\bsntrys_eyJ[A-Za-z0-9+/=_-]{50,400}|\bsntryu_[a-f0-9]{64}\b"),
    ("settlemint_token", r"\bsm_(?:pat|aat|sat)_[A-Za-z0-9]{16}\b"),
    ("sourcegraph_token", r"\bsgp_(?:[a-fA-F0-9]{16}|local)_[a-fA-F0-9]{40}\b"),
    ("twitter_token", r"\bA{22}[A-Za-z0-9%]{80,100}"),
    ("notion_token", r"\bntn_[0-9]{11}[A-Za-z0-9]{35}\b|\bsecret_[A-Za-z0-9]{43}\b"),
    ("figma_token", rf"\bfigd_{_W}{{40}}"),
    ("replicate_token", r"\br8_[A-Za-z0-9]{37}\b"),
    ("groq_key", r"\bgsk_[A-Za-z0-9]{52}\b"),
    ("xai_key", r"\bxai-[A-Za-z0-9]{80}\b"),
    ("langsmith_key", r"\blsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}\b"),
    ("supabase_token", r"\bsbp_[a-f0-9]{40}\b"),
    ("render_key", r"\brnd_[A-Za-z0-9]{32}\b"),
    ("netlify_token", r"\bnfp_[A-Za-z0-9]{36}\b"),
    ("tailscale_key", r"\btskey-(?:api|auth|client|scim|webhook)-[A-Za-z0-9]{10,}-[A-Za-z0-9]{20,}"),
    ("buildkite_token", r"\bbkua_[a-f0-9]{40}\b"),
    ("circleci_token", r"\bCCIPAT_[A-Za-z0-9]{22}_[a-f0-9]{40}\b"),
    ("braintree_token", r"\baccess_token\$(?:production|sandbox)\$[0-9a-z]{16}\$[0-9a-f]{32}\b"),
    ("aws_bedrock_key", rf"\bABSK{_B}{{100,280}}={{0,2}}"),
    ("aws_mws_key", r"\bamzn\.mws\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"),
    ("gitlab_token", r"\bglpat-[0-9A-Za-z_-]{20,}"),
]

# Password hashes (htpasswd, /etc/shadow, application tables): a hash is as good as a password to an offline
# attack, so it goes too.
HASH_FORMATS: list[tuple[str, str]] = [
    ("password_hash", r"\$(?:apr1|1|5|6|md5|sha1|y|gy|7)\$[./A-Za-z0-9=$,]{1,128}\$[./A-Za-z0-9]{8,}"),
    ("password_hash", r"\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}"),
    ("password_hash", r"\$argon2(?:id|i|d)\$v=\d+\$[a-z=0-9,]{1,64}\$[A-Za-z0-9+/]{8,}\$[A-Za-z0-9+/]{16,}"),
    ("password_hash", r"\{(?:SHA|SSHA|SHA256|SSHA256|SHA512|SSHA512|MD5|SMD5|CRYPT|PBKDF2[\w-]*)\}"
                      r"[A-Za-z0-9+/=.$]{8,}"),
]

# Webhook URLs whose path is the credential: the host and route stay, the secret part goes.
WEBHOOK_FORMATS: list[tuple[str, str]] = [
    ("discord_webhook", r"\b(?:discord(?:app)?\.com|discord\.gg)/api/webhooks/(?P<s>\d{5,30}/[A-Za-z0-9_-]{20,100})"),
    ("teams_webhook", r"\.webhook\.office\.com/webhookb2/(?P<s>[0-9a-fA-F@/-]{20,}IncomingWebhook/[0-9a-fA-F/-]{20,})"),
    ("teams_webhook", r"\boutlook\.office\.com/webhook/(?P<s>[0-9a-fA-F@/-]{20,}IncomingWebhook/[0-9a-fA-F/-]{20,})"),
    ("zapier_webhook", r"\bhooks\.zapier\.com/hooks/catch/(?P<s>\d+/[A-Za-z0-9]+)"),
    ("mattermost_webhook", r"/hooks/(?P<s>[a-z0-9]{26})\b"),
]
