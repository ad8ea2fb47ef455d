"""LogRocket Galileo highlights: when to poll, and the wait loop that polls, reports progress and resumes."""
