"""/studio: seed 004's LLM chat platform (auth, providers, agents, tools, conversations,
messages, chat rooms and their WebSocket) over the plaza's services. docs/studio.md maps it.

Each module holds one area of the seed's API; `routers` lists them for api/app.py.
"""

from __future__ import annotations

from fastapi import APIRouter

from agentplaza.api.dialects.studio import (
    agents,
    auth,
    chat_room_ws,
    chat_rooms,
    conversations,
    info,
    messages,
    providers,
    tools,
)

routers: tuple[APIRouter, ...] = (
    info.router,
    auth.router,
    providers.router,
    tools.router,
    agents.router,
    conversations.router,
    messages.router,
    chat_rooms.router,
    chat_room_ws.router,
)
