"""identify_user's answer: the user record as LogRocket now stores it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mcp_server.render.budget import Budget
from mcp_server.render.markdown import code, table_head, table_row
from mcp_server.results.base import ToolResult

MAX_CHARS = 12_000


class UserRecord(BaseModel):
    user_id: str = Field(alias="userID", description="The user's id in the customer's app.")
    name: str | None = None
    email: str | None = None
    traits: dict[str, str] = Field(description="Every trait LogRocket now holds; values are strings there.")


class IdentifyUserOutput(ToolResult):
    app_id: str = Field(description="The LogRocket app, org/app.")
    user: UserRecord = Field(description="The user record as LogRocket returned it.")
    deleted_traits: list[str] = Field(description="Traits this call sent blank, which LogRocket deletes.")

    def render(self) -> str:
        user = self.user
        note_lines = []
        if self.deleted_traits:
            note_lines.append("Deleted traits: " + ", ".join(code(t, 80) for t in self.deleted_traits[:50]))
        budget = Budget(MAX_CHARS, reserve=600 + sum(len(n) for n in note_lines))
        budget.add(f"Updated LogRocket user {code(user.user_id)} in app {code(self.app_id)}.")
        budget.add("")
        budget.add(f"- **Name:** {code(user.name) if user.name else '(not set)'}")
        budget.add(f"- **Email:** {code(user.email) if user.email else '(not set)'}")
        shown = 0
        if user.traits:
            budget.add(f"- **Traits:** {len(user.traits)} (LogRocket stores every value as a string)")
            budget.add("")
            budget.add(table_head(["trait", "value"]))
            for key, value in sorted(user.traits.items()):
                if not budget.add(table_row([code(key, 100), code(value, 200)])):
                    break
                shown += 1
        else:
            budget.add("- **Traits:** none")
        if shown < len(user.traits):
            note_lines.append(
                f"{len(user.traits) - shown} more traits are not shown here to keep this answer short; "
                "every trait is in the structured result (user.traits)."
            )
        return budget.close("\n" + "\n".join(note_lines) if note_lines else "")
