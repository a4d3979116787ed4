"""The report: its synthesis, the grounded narrative, the postmortem, coverage, follow-up rounds, and similar past
incidents."""
