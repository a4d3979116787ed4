"""Remediation: the closed catalog of actions, the policy that guards them, and the verdict after one ran."""
