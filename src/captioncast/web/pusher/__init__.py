"""Pusher Channels (protocol 7) for captioncast: unmodified Pusher clients and server SDKs.

::

    config.py        PusherApp: app id, key, secret, limits; the secret kept in the data dir
    names.py         channel names: public, private-, presence-, private-encrypted-
    frames.py        frames and error codes
    auth.py          signatures: channel auth strings, signed HTTP API requests
    directory.py     ChannelDirectory: subscribers and presence members (pure, shared)
    protocol.py      PusherSession: one connection's protocol state machine (pure)
    outbox.py        Outbox: a connection's bounded frame queue (pure)
    endpoint.py      PusherGateway, PusherConnection: the asyncio edge, caption relays
    channel_auth.py  POST /pusher/auth: viewer token → channel signature
    http_api.py      /apps/{app_id}/…: the HTTP API for server SDKs
    router.py        pusher_router(services): all of the above, when enabled

Nothing here raises on bad client input: it becomes a ``pusher:error``, a
``pusher:subscription_error``, a close code or an HTTP error (docs/pusher.md).
"""

from captioncast.web.pusher.config import PusherApp, PusherSecret, load_pusher_secret
from captioncast.web.pusher.endpoint import PusherGateway

__all__ = ["PusherApp", "PusherGateway", "PusherSecret", "load_pusher_secret"]
