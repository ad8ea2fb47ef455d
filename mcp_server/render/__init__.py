"""Markdown rendering shared by all tools: safe text, tables, size budgets."""
