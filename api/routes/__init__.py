"""One router per noun: threads, approvals, policy, audit, events."""
