"""Ranking the specialists' findings into root causes: the service graph, the ranking, what broke inside a cause,
and calibrated confidence."""
