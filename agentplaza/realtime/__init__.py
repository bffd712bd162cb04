"""Per-node live connections (WS, SSE, long-poll waiters) fed by the bus. See docs/realtime.md."""
