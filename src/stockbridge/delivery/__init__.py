"""Outbound delivery: retry policy, circuit breaker and rate limit, pure (DESIGN §6)."""
