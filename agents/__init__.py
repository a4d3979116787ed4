"""Pure analysis: specialists, the root-cause analyst, remediation and policy. No cloud SDK is imported here."""
