"""EventStore adapters: SQLite (embedded) and Firestore. Each implements the four capabilities of shared/ports.py
(event log, claims, summaries, term index) over one database."""
