"""Outbound delivery: the durable webhook outbox worker (signing, retries, SSRF guard)."""
