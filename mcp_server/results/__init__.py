"""What each tool answers: one module per tool, holding its typed result and the Markdown rendered from it.

Every tool takes one path: its arguments are checked, a domain call is made (an adapter, the export reader),
and the tool builds its result model from what came back. ``answer(result)`` (``results/base.py``) turns it
into the MCP result: ``result.render()`` is the Markdown, ``result.model_dump()`` the structured content.

A new tool ``x``: ``results/x.py`` defines ``class XOutput(ToolResult)`` (its fields are the output schema;
facts only the Markdown needs are ``MarkdownOnly`` fields with defaults) with ``render()`` written from its
fields within a size budget, plus any builder from domain objects; ``tools/x.py`` holds the arguments, the
domain call and ``TOOL = ToolSpec(...)``, is annotated ``-> Annotated[CallToolResult, XOutput]`` and ends in
``return answer(out)``; ``tools/__init__.py`` lists its ``TOOL``.
"""
