"""The hub as an MCP server (Gradio's MCP mode), called with the official MCP Python client over streamable
HTTP on loopback: what an agent sees (one tool per plugin action, named after its API) and one real call."""

from __future__ import annotations

import ast
import asyncio
import base64

import pytest

from hub_api import DIGIT_MODEL, drawn_one

mcp = pytest.importorskip("mcp")
from mcp.client.streamable_http import streamablehttp_client  # noqa: E402

# What each plugin offers an agent: digits classified, a piece composed, glyphs drawn, a character's style.
EXPECTED_TOOLS = {"mnist_cnn_classify", "mnist_mlp_classify", "lstm_composer_compose", "font_gan_generate",
                  "font_style_classify"}


async def session_call(url: str, work):
    async with streamablehttp_client(url) as (read, write, _):
        async with mcp.ClientSession(read, write) as session:
            await session.initialize()
            return await work(session)


def test_the_hub_lists_its_tools_and_classifies_a_digit_for_an_agent(hub):
    url = hub.url + "gradio_api/mcp/"

    async def work(session):
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        picture = "data:image/png;base64," + base64.b64encode(drawn_one()).decode()
        answer = await session.call_tool("mnist_cnn_classify", {"image": picture, "choice": DIGIT_MODEL})
        refused = [await session.call_tool("mnist_cnn_classify", {"image": image, "choice": DIGIT_MODEL})
                   for image in ("file:///etc/passwd", "/etc/passwd", f"{hub.url}gradio_api/file=/etc/passwd")]
        return tools, answer, refused

    tools, answer, refused = asyncio.run(session_call(url, work))
    assert EXPECTED_TOOLS <= set(tools), sorted(tools)
    assert "digit" in tools["mnist_cnn_classify"].description
    assert not answer.isError, answer.content
    text = " ".join(item.text for item in answer.content if item.type == "text")
    assert ast.literal_eval(text)["label"] == "1"  # Gradio writes the answer as a Python literal
    for result in refused:  # a server path, or a URL the hub would have to fetch, is never opened
        assert result.isError and "root:" not in str(result.content), result.content
