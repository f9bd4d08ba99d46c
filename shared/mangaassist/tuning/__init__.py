"""Runtime tuning: the values the SLA optimizer moves (confidence threshold, max tokens and cache TTL per task),
where they live (the runtime configuration table) and how a turn reads them cheaply; the optimizer itself.

runtime_config  the tuned values, their bounds and defaults, the store (versions, audit, revert), the cached read
window          the sliding window of stored turns and its SLA figures (SPEC section 3)
optimizer       one bounded step at a time, with a cool-down and the reason for each
"""
