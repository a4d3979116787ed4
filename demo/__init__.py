"""The demo scenario generator: a microservice shop with injected faults and their ground truth."""
