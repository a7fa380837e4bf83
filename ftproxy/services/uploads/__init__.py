"""The Uploads API: parts kept in the parts' storage, completed into a ledger file."""
