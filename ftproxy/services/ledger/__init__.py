"""The ledger's shared rules: call context, lookups, status records,
links and reconciliation of creates, idempotent replays."""
