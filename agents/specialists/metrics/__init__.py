"""The metrics specialist: series off their baseline, and instances off their fleet."""
