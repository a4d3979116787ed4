"""Pure analysis, no cloud SDK: the specialists (specialists/), ranking their findings into causes (ranking/),
remediation and its policy (remediation/), and the report (reporting/)."""
