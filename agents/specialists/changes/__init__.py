"""The changes specialist: deploys, config changes, scaling and restarts near the onset."""
