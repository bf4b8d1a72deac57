"""Best-effort events to channel-layer groups, sent after commit by the code that
changed something open sockets must hear about (a deleted chat, a revoked key)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

logger = logging.getLogger("neptun.events")


def send_to_groups(groups: Iterable[str], event: dict[str, Any]) -> None:
    """Send ``event`` to every group, in one event loop (``async_to_sync`` per group
    costs a loop and a thread, ~5 ms: a minute for 10,000 chats). Never raises: a
    socket that misses the event notices at its next heartbeat."""
    names = list(groups)
    if not names:
        return
    try:
        from asgiref.sync import async_to_sync
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        if layer is None:
            return

        async def send_all() -> None:
            for name in names:
                await layer.group_send(name, event)

        async_to_sync(send_all)()
    except Exception:
        logger.exception("could not send %s to %d group(s)", event.get("type"), len(names))
