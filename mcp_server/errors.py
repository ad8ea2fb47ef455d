"""Errors whose message is written for the person or agent who called a tool.

The server turns any of these into a tool error result carrying exactly this message; anything else
is a bug and reaches the client only as a generic failure (its text stays in the server log).
"""


class UserFacingError(Exception):
    """A failure the caller can act on; ``str(error)`` says what went wrong and what to try."""


class ConfigError(UserFacingError):
    """A setting the called tool needs is missing or malformed."""


class InputError(UserFacingError):
    """A tool argument is well-typed but unusable (for example a date in the future of its pair)."""
