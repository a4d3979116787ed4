"""Fleet-scale log statistics pre-aggregated where the logs live: BigQuery / Log Analytics.

Instead of pulling millions of lines into a function, one parameterised query groups the lines of the baseline
and incident windows by a digit/id-normalised message per service and returns counts, first-seen times and an
exemplar per group; the log analyst then mines patterns over those few thousand rows. User values travel only
as query parameters; the table name (which cannot be a parameter) is validated strictly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.telemetry.models import Window

_TABLE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]\.[A-Za-z_][A-Za-z0-9_]{0,1023}\.[A-Za-z_][A-Za-z0-9_$-]{0,1023}$")

# Log Analytics (_AllLogs) column shapes: resource.labels and json_payload are JSON.
PATTERN_COUNT_SQL = """
WITH lines AS (
  SELECT
    timestamp,
    CASE severity WHEN 'EMERGENCY' THEN 8 WHEN 'ALERT' THEN 7 WHEN 'CRITICAL' THEN 6 WHEN 'ERROR' THEN 5
      WHEN 'WARNING' THEN 4 WHEN 'NOTICE' THEN 3 WHEN 'INFO' THEN 2 WHEN 'DEBUG' THEN 1 ELSE 0 END AS severity_rank,
    COALESCE(text_payload, JSON_VALUE(json_payload, '$.message'), TO_JSON_STRING(json_payload)) AS message,
    COALESCE(JSON_VALUE(resource.labels.service_name), JSON_VALUE(resource.labels.container_name),
             JSON_VALUE(resource.labels.function_name), '') AS service
  FROM `{table}`
  WHERE timestamp >= @baseline_start AND timestamp < @incident_end
    AND log_name NOT LIKE '%cloudaudit.googleapis.com%'
)
SELECT
  REGEXP_REPLACE(
    REGEXP_REPLACE(
      REGEXP_REPLACE(SUBSTR(message, 1, 2000),
        r'[0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}}', '<*>'),
      r'\\b(?:0x)?[0-9a-fA-F]*[0-9][0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*\\b', '<*>'),
    r'[0-9]+', '<*>') AS template,
  service,
  IF(timestamp < @incident_start, 'baseline', 'incident') AS bucket,
  COUNT(*) AS count,
  MIN(timestamp) AS first_seen,
  ANY_VALUE(message) AS exemplar,
  MAX(severity_rank) AS severity_rank
FROM lines
WHERE ARRAY_LENGTH(@services) = 0 OR service IN UNNEST(@services)
GROUP BY template, service, bucket
ORDER BY count DESC
LIMIT @max_rows
"""


def pattern_count_query(table: str) -> str:
    if not _TABLE.match(table):
        raise ValueError(f"not a BigQuery table name (project.dataset.table): {table[:80]!r}")
    return PATTERN_COUNT_SQL.format(table=table)


@dataclass(frozen=True)
class PatternCount:
    template: str
    service: str
    bucket: str  # baseline | incident
    count: int
    first_seen: float
    exemplar: str
    severity_rank: int


def _ts(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


class BigQueryLogAggregator:
    def __init__(self, table: str, client: Any = None, max_rows: int = 20_000, timeout_s: float = 120.0):
        self.sql = pattern_count_query(table)
        if client is None:
            from google.cloud import bigquery

            client = bigquery.Client()
        self.client, self.max_rows, self.timeout_s = client, max_rows, timeout_s

    def log_pattern_counts(self, baseline: Window, incident: Window, services: list[str] | None = None
                  ) -> tuple[list[PatternCount], bool]:
        """Rows per (template, service, window) and whether the row cap cut the result."""
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(query_parameters=[
            bigquery.ScalarQueryParameter("baseline_start", "TIMESTAMP", _ts(baseline.start)),
            bigquery.ScalarQueryParameter("incident_start", "TIMESTAMP", _ts(incident.start)),
            bigquery.ScalarQueryParameter("incident_end", "TIMESTAMP", _ts(incident.end)),
            bigquery.ArrayQueryParameter("services", "STRING", list(services or [])),
            bigquery.ScalarQueryParameter("max_rows", "INT64", self.max_rows + 1),
        ])
        rows = list(self.client.query(self.sql, job_config=config).result(timeout=self.timeout_s))
        out = [PatternCount(str(r["template"]), str(r["service"]), str(r["bucket"]), int(r["count"]),
                            r["first_seen"].timestamp(), str(r["exemplar"]), int(r["severity_rank"]))
               for r in rows[: self.max_rows]]
        return out, len(rows) > self.max_rows
