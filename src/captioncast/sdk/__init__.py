"""The Python SDK: manage flows and tokens over the REST API, and subscribe to channels.

::

    import asyncio
    from captioncast import Client

    async def main() -> None:
        async with Client("API_KEY", "http://127.0.0.1:8080") as cc:
            flow = await cc.create_flow("news", source="rtmp_push", source_language="en")
            await cc.start_flow(flow)
            print("publish to", flow.rtmp_details.full_url)
            async for caption in cc.subscribe(flow):
                print(caption.lines)

    asyncio.run(main())

Modules: ``rest`` (Client, httpx), ``models`` (Flow, Token, Transcript), ``subscription``
(the asyncio edge, websockets), ``viewer`` (the protocol, pure), ``caption`` (Caption, Gap),
``errors`` (the exception tree). See docs/sdks.md.
"""

from captioncast.core.replay import StreamPosition
from captioncast.sdk.caption import Caption, Gap
from captioncast.sdk.errors import ApiError, SubscribeError
from captioncast.sdk.models import (
    CaptionFormat,
    Channel,
    Cue,
    Flow,
    Ingest,
    IngestGap,
    RtmpDetails,
    SrtDetails,
    Token,
    Transcript,
)
from captioncast.sdk.rest import DEFAULT_URL, Client, websocket_url
from captioncast.sdk.subscription import Subscription, TokenSource

__all__ = [
    "DEFAULT_URL",
    "ApiError",
    "Caption",
    "CaptionFormat",
    "Channel",
    "Client",
    "Cue",
    "Flow",
    "Gap",
    "Ingest",
    "IngestGap",
    "RtmpDetails",
    "SrtDetails",
    "StreamPosition",
    "SubscribeError",
    "Subscription",
    "Token",
    "TokenSource",
    "Transcript",
    "websocket_url",
]
