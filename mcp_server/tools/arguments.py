"""Argument types more than one tool takes, defined once so their limits cannot drift apart."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

# LogRocket's limit for user ids, names, emails and each trait key and value.
MAX_TEXT = 1024

# A time as text: epoch milliseconds, an ISO-8601 date or date-time, today/yesterday or an age such as 7d.
TimeText = Annotated[str, StringConstraints(min_length=1, max_length=64)]
# A time or cursor as a JSON number: never negative.
NonNegative = Annotated[int, Field(ge=0)]
