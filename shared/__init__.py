"""The domain core of Auto SRE: models, events and their fold, alert parsing, and ports with their adapters."""
