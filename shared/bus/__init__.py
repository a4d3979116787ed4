"""Bus adapters: in-process (embedded) and Pub/Sub."""
