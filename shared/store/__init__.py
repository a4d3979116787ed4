"""EventStore adapters: SQLite (embedded) and Firestore."""
