"""SBR side-info syntax: frame fields and their entropy codes."""
