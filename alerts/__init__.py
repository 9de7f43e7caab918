"""The alerting service: consumer group, rules, dedupe, correlation, watchdog."""
