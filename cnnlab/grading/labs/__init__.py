"""Public test data of the labs, one generated module per lab."""
