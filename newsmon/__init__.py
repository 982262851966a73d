"""The newsmon command line: thin wiring over the agents and the monitor core."""
