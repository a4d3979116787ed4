"""The traces specialist: latency and error shifts per operation, where errors start, wire delay, the call graph."""
