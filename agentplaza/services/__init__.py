"""Use cases: orchestrate domain rules, the store and the bus. No HTTP, no SQL."""
