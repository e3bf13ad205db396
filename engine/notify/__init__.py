"""Telling people a decision waits: targets from the policy file, an outbox written with
the event, and a courier that delivers it at least once without slowing the engine."""
