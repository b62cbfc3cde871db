"""Real-time serving: campaigns, filters, recommendations, events."""
