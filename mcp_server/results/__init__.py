"""What each tool answers: one module per tool, holding its typed result and the Markdown rendered from it.

Every tool takes one path: its arguments are checked, a domain call is made (an adapter, the export reader),
and the tool builds its result model from what came back. ``answer(result)`` (``results/base.py``) turns it
into the MCP result: ``result.render()`` is the Markdown, ``result.model_dump()`` the structured content.
"""
