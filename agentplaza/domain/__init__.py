"""Pure rules and types: no I/O, no async, no imports from the rest of agentplaza."""
