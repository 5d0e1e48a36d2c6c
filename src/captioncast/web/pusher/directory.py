"""Who is subscribed to which Pusher channel, and who is present on presence channels. Pure.

The directory is shared by every connection of the app. Joining and leaving return what must
happen elsewhere: frames for the other subscribers (``Deliver``), and ``Watch``/``Unwatch``
when a channel backed by a caption channel gains its first or loses its last subscriber, so
the edge keeps one broker subscription per occupied channel and serializes each caption
once per channel, whatever the number of sockets.
"""

from __future__ import annotations

from dataclasses import dataclass

from captioncast.web.pusher.frames import event_frame, server_event


@dataclass(frozen=True, slots=True)
class Member:
    """A presence channel member: ``user_info`` is any JSON value (None: none given)."""

    user_id: str
    user_info: object = None


@dataclass(frozen=True, slots=True)
class Deliver:
    """Send ``text`` to every socket in ``socket_ids``.

    ``partial`` names the channel when the frame is a partial transcript, which a newer
    partial of the same channel may replace while it waits in a socket's queue.
    """

    socket_ids: tuple[str, ...]
    text: str
    partial: str | None = None


@dataclass(frozen=True, slots=True)
class Watch:
    """``channel`` gained its first subscriber: relay ``caption_channel``'s messages into it."""

    channel: str
    caption_channel: str


@dataclass(frozen=True, slots=True)
class Unwatch:
    """``channel`` lost its last subscriber: stop relaying into it."""

    channel: str


class _Channel:
    __slots__ = ("caption_channel", "members", "sockets", "user_sockets")

    def __init__(self, caption_channel: str | None) -> None:
        self.caption_channel = caption_channel
        self.sockets: dict[str, str | None] = {}  # socket id → its presence user id
        self.members: dict[str, object] = {}  # user id → user info, first joined first
        self.user_sockets: dict[str, int] = {}  # user id → how many of its sockets joined


class ChannelDirectory:
    """The occupied channels of one app: their sockets, presence members, caption source."""

    def __init__(self) -> None:
        self._channels: dict[str, _Channel] = {}

    def join(
        self, socket_id: str, channel: str, caption_channel: str | None, member: Member | None
    ) -> list[Deliver | Watch]:
        """Add ``socket_id`` to ``channel`` (a no-op if it is there already)."""
        actions: list[Deliver | Watch] = []
        state = self._channels.get(channel)
        if state is None:
            state = self._channels[channel] = _Channel(None)
        if state.caption_channel is None and caption_channel is not None:
            # a new channel, or one whose caption channel closed and has come back since
            state.caption_channel = caption_channel
            actions.append(Watch(channel, caption_channel))
        if socket_id in state.sockets:
            return actions
        others = tuple(state.sockets)
        state.sockets[socket_id] = None if member is None else member.user_id
        if member is not None:
            count = state.user_sockets.get(member.user_id, 0)
            state.user_sockets[member.user_id] = count + 1
            if count == 0:
                state.members[member.user_id] = member.user_info
                if others:
                    added = server_event("pusher_internal:member_added", _member(member), channel)
                    actions.append(Deliver(others, added))
        return actions

    def leave(self, socket_id: str, channel: str) -> list[Deliver | Unwatch]:
        """Remove ``socket_id`` from ``channel`` (a no-op if it is not there)."""
        state = self._channels.get(channel)
        if state is None or socket_id not in state.sockets:
            return []
        actions: list[Deliver | Unwatch] = []
        user_id = state.sockets.pop(socket_id)
        if user_id is not None:
            count = state.user_sockets.pop(user_id) - 1
            if count:
                state.user_sockets[user_id] = count
            else:
                del state.members[user_id]
                if state.sockets:
                    removed = {"user_id": user_id}
                    frame = server_event("pusher_internal:member_removed", removed, channel)
                    actions.append(Deliver(tuple(state.sockets), frame))
        if not state.sockets:
            del self._channels[channel]
            if state.caption_channel is not None:
                actions.append(Unwatch(channel))
        return actions

    def event(
        self,
        channel: str,
        event: str,
        data: object,
        *,
        exclude: str | None = None,
        user_id: str | None = None,
        partial: bool = False,
    ) -> Deliver | None:
        """``event`` for every subscriber of ``channel`` but ``exclude``, encoded once;
        None when nobody would receive it."""
        state = self._channels.get(channel)
        if state is None:
            return None
        targets = tuple(s for s in state.sockets if s != exclude)
        if not targets:
            return None
        text = event_frame(event, data, channel, user_id)
        return Deliver(targets, text, channel if partial else None)

    def detach_caption(self, channel: str) -> None:
        """The caption channel behind ``channel`` closed: it carries app events only now."""
        state = self._channels.get(channel)
        if state is not None:
            state.caption_channel = None

    def caption_channel(self, channel: str) -> str | None:
        state = self._channels.get(channel)
        return None if state is None else state.caption_channel

    def is_subscribed(self, socket_id: str, channel: str) -> bool:
        state = self._channels.get(channel)
        return state is not None and socket_id in state.sockets

    def user_id(self, socket_id: str, channel: str) -> str | None:
        """The presence user id ``socket_id`` joined ``channel`` as (None: not a member)."""
        state = self._channels.get(channel)
        return None if state is None else state.sockets.get(socket_id)

    def subscription_count(self, channel: str) -> int:
        state = self._channels.get(channel)
        return 0 if state is None else len(state.sockets)

    def user_count(self, channel: str) -> int:
        state = self._channels.get(channel)
        return 0 if state is None else len(state.members)

    def has_user(self, channel: str, user_id: str) -> bool:
        state = self._channels.get(channel)
        return state is not None and user_id in state.members

    def user_ids(self, channel: str) -> list[str]:
        state = self._channels.get(channel)
        return [] if state is None else list(state.members)

    def presence(self, channel: str) -> dict[str, object]:
        """The ``subscription_succeeded`` data of a presence channel."""
        state = self._channels.get(channel)
        members = {} if state is None else dict(state.members)
        return {"presence": {"ids": list(members), "hash": members, "count": len(members)}}

    def occupied(self, prefix: str = "") -> list[str]:
        """The channels with at least one subscriber whose name starts with ``prefix``."""
        return sorted(name for name in self._channels if name.startswith(prefix))


def _member(member: Member) -> dict[str, object]:
    data: dict[str, object] = {"user_id": member.user_id}
    if member.user_info is not None:
        data["user_info"] = member.user_info
    return data
