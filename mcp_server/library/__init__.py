"""The session library: an index of every exported session (who, when, pages, errors, failed requests,
custom events), filled by syncing LogRocket's export listing, so agents can find a user's sessions and
see patterns across sessions without downloading the whole app's exports."""
