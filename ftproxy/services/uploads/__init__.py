"""The Uploads API: parts kept on disk, completed into a ledger file."""
