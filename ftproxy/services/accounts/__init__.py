"""What belongs to one API key: budgets and quotas, webhooks out."""
