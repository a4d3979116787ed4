"""Fleet-scale log statistics pre-aggregated where the logs live: BigQuery / Log Analytics.

Instead of pulling millions of lines into a function, one parameterised query groups the lines of the baseline
and incident windows by a normalised message (UUIDs, hex ids and numbers become `<*>`) per service and returns a
count, the first-seen time, an exemplar and the worst severity per group; the log analyst then mines patterns over
those few thousand rows. Every value travels as a query parameter; the table name, which cannot be one, is
validated strictly. The query reads the Log Analytics schema (a log bucket's linked dataset, e.g.
`project.dataset._AllLogs`): `timestamp`, `severity`, `log_name`, `text_payload`, `json_payload` (JSON) and
`resource.labels` (JSON). A GKE line's service is its workload, "cluster/namespace/workload", as every other reader
names it (shared/workloads.py: the same pod-name patterns).
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from typing import Any

from shared.cost_ledger import BudgetReached
from shared.read_deadline import time_left
from shared.read_limit import call_refused
from shared.severity import SEVERITIES
from shared.telemetry.bounds import MAX_PAGES, MAX_RECORDS
from shared.telemetry_records import PatternCount, ReadCost, Window
from shared.workloads import GENERATED_POD, ORDINAL_POD

# project (6-30: lower-case letter first, no trailing hyphen) . dataset . table; nothing that could leave backticks.
TABLE_NAME = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]\.[A-Za-z0-9_]{1,1024}\.[A-Za-z0-9_][A-Za-z0-9_-]{0,1023}")
MAX_MESSAGE_CHARS = 2000
PLACEHOLDER = "<*>"
# Applied in order (RE2 syntax, which these share with Python's `re`): UUIDs, then words of hex digits holding a
# digit (ids, hashes, 0x addresses, plain numbers), then digit runs left inside words (pod-7, v2).
NORMALIZERS = (
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    r"\b(?:0[xX])?[0-9a-fA-F]*[0-9][0-9a-fA-F]*\b",
    r"[0-9]+",
)
DEFAULT_MAX_BYTES_BILLED = 10 * 2**30  # 10 GiB: a query that would scan more fails instead of billing it
PARAMETERS = ("baseline_start", "baseline_end", "incident_start", "incident_end", "services", "max_rows")


def _template_sql(column: str) -> str:
    expr = column
    for pattern in NORMALIZERS:
        expr = f"REGEXP_REPLACE({expr}, r'{pattern}', '{PLACEHOLDER}')"
    return expr


_RANK_SQL = " ".join(f"WHEN '{name}' THEN {rank}" for rank, name in enumerate(SEVERITIES) if rank)

PATTERN_COUNT_SQL = f"""
WITH lines AS (
  SELECT
    timestamp,
    CASE UPPER(severity) {_RANK_SQL} ELSE 0 END AS severity_rank,
    SUBSTR(COALESCE(text_payload, JSON_VALUE(json_payload, '$.message'), TO_JSON_STRING(json_payload), ''),
           1, {MAX_MESSAGE_CHARS}) AS message,
    IF(NULLIF(JSON_VALUE(resource.labels.cluster_name), '') IS NOT NULL
         AND NULLIF(JSON_VALUE(resource.labels.namespace_name), '') IS NOT NULL,
       CONCAT(JSON_VALUE(resource.labels.cluster_name), '/', JSON_VALUE(resource.labels.namespace_name), '/',
              COALESCE(REGEXP_EXTRACT(JSON_VALUE(resource.labels.pod_name), r'{GENERATED_POD}'),
                       REGEXP_EXTRACT(JSON_VALUE(resource.labels.pod_name), r'{ORDINAL_POD}'),
                       NULLIF(JSON_VALUE(resource.labels.pod_name), ''),
                       JSON_VALUE(resource.labels.container_name), '')),
       COALESCE(JSON_VALUE(resource.labels.service_name), JSON_VALUE(resource.labels.container_name),
                JSON_VALUE(resource.labels.function_name), '')) AS service
  FROM `__TABLE__`
  WHERE timestamp >= @baseline_start AND timestamp < @incident_end
    AND (timestamp < @baseline_end OR timestamp >= @incident_start)
    AND log_name NOT LIKE '%cloudaudit.googleapis.com%'
)
SELECT
  {_template_sql("message")} AS template,
  service,
  IF(timestamp < @incident_start, 'baseline', 'incident') AS bucket,
  COUNT(*) AS count,
  MIN(timestamp) AS first_seen,
  ANY_VALUE(message) AS exemplar,
  MAX(severity_rank) AS worst_severity
FROM lines
WHERE ARRAY_LENGTH(@services) = 0 OR service IN UNNEST(@services)
GROUP BY template, service, bucket
ORDER BY count DESC, worst_severity DESC, template, service, bucket
LIMIT @max_rows
"""


def pattern_count_query(table: str) -> str:
    """The aggregation SQL over `table` (`project.dataset.table`); its values are the `PARAMETERS`."""
    if not TABLE_NAME.fullmatch(table):
        raise ValueError(f"not a BigQuery table name (project.dataset.table): {table[:80]!r}")
    return PATTERN_COUNT_SQL.replace("__TABLE__", table)


def _ts(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


class BigQueryLogAggregator:
    """Runs `pattern_count_query` with google-cloud-bigquery (the client is injected in tests). The query returns at
    most `max_rows` + 1 rows (`bounds.MAX_RECORDS`, the bound of every read); the result's pages are followed by
    token (the client's RowIterator) until the bound or `max_pages` pages, and a cut result says so.

    Every job carries a real bytes cap: QueryJobConfig sends `str(value)` for maximumBytesBilled, so None would
    travel as "None", which the API refuses (400)."""

    def __init__(self, table: str, client: Any = None, max_rows: int = MAX_RECORDS, timeout_s: float = 120.0,
                 max_bytes_billed: int = DEFAULT_MAX_BYTES_BILLED, max_pages: int = MAX_PAGES):
        self.sql = pattern_count_query(table)
        if max_rows < 1 or timeout_s <= 0 or max_pages < 1:
            raise ValueError("max_rows, timeout_s and max_pages must be positive")
        self.max_pages = max_pages
        if isinstance(max_bytes_billed, bool) or not isinstance(max_bytes_billed, int) or max_bytes_billed < 1:
            raise ValueError(f"max_bytes_billed must be a positive number of bytes, not {max_bytes_billed!r}")
        if client is None:
            from google.cloud import bigquery

            client = bigquery.Client()
        self.table, self.client, self.max_rows, self.timeout_s = table, client, max_rows, timeout_s
        self.max_bytes_billed = max_bytes_billed
        self._last = threading.local()

    @property
    def last_cost(self) -> ReadCost:
        """What this thread's last `log_pattern_counts` cost: one query job and the bytes it billed (the cost ledger,
        shared/telemetry/metered.py, reads it after each call)."""
        cost: ReadCost = getattr(self._last, "cost", ReadCost())
        return cost

    def job_config(self, baseline: Window, incident: Window, services: list[str] | None = None) -> Any:
        """A QueryJobConfig carrying every value as a parameter (one row past `max_rows` tells of a cut)."""
        from google.cloud import bigquery

        if baseline.end > incident.start:
            raise ValueError(f"the baseline {baseline} must end before the incident {incident} starts")
        return bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter("baseline_start", "TIMESTAMP", _ts(baseline.start)),
                bigquery.ScalarQueryParameter("baseline_end", "TIMESTAMP", _ts(baseline.end)),
                bigquery.ScalarQueryParameter("incident_start", "TIMESTAMP", _ts(incident.start)),
                bigquery.ScalarQueryParameter("incident_end", "TIMESTAMP", _ts(incident.end)),
                bigquery.ArrayQueryParameter("services", "STRING", list(services or [])),
                bigquery.ScalarQueryParameter("max_rows", "INT64", self.max_rows + 1),
            ],
            job_timeout_ms=int(self.timeout_s * 1000),
            maximum_bytes_billed=self.max_bytes_billed,
        )

    def log_pattern_counts(self, baseline: Window, incident: Window, services: list[str] | None = None
                           ) -> tuple[list[PatternCount], bool]:
        """Rows per (template, service, window), most frequent first, and whether `max_rows` cut the result.

        `services=None` counts every service; an empty list asks for none (no query is run)."""
        if services is not None and not services:
            return [], False
        config = self.job_config(baseline, incident, services)
        budget = max(time_left(self.timeout_s), 1.0)  # its own timeout, or what is left of the run's deadline
        if budget < self.timeout_s:
            config.job_timeout_ms = int(budget * 1000)
        unpaid = call_refused()  # the query job: one request the investigation's API-call budget must pay for
        if unpaid:
            self._last.cost = ReadCost()
            raise BudgetReached(f"the investigation's read budget is spent ({unpaid})")
        self._last.cost = ReadCost(api_calls=1)
        job = self.client.query(self.sql, job_config=config, timeout=budget)
        result = job.result(timeout=budget)
        rows: list[Any] = []
        pages = 0  # the result's pages (jobs.getQueryResults by page token), each one request
        paged = hasattr(result, "pages")
        unpaid = call_refused() if paged else ""  # each page one request the budget must pay for
        for page in (result.pages if paged else [result]) if not unpaid else []:
            pages += 1
            rows.extend(page)
            if len(rows) > self.max_rows or pages >= self.max_pages:
                break
            if paged and getattr(result, "next_page_token", None) and (unpaid := call_refused()):
                break  # the next page is one more request, which the budget cannot pay for
        billed = getattr(job, "total_bytes_billed", None)
        calls = 1 + (pages if paged else 0)  # the job, and its result's pages
        self._last.cost = ReadCost(api_calls=calls, bytes_billed=billed if isinstance(billed, int) else 0)
        out = [PatternCount(str(r["template"]), str(r["service"]), str(r["bucket"]), int(r["count"]),
                            r["first_seen"].timestamp(), str(r["exemplar"]), int(r["worst_severity"]))
               for r in rows[: self.max_rows]]
        more = getattr(result, "next_page_token", None) if pages >= self.max_pages else None
        return out, len(rows) > self.max_rows or bool(more) or bool(unpaid)
