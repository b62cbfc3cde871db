"""Real-time data: event trackers, PutEvents/PutItems/PutUsers, and their single writer."""
