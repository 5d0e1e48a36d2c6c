"""Channels: what a viewer subscribes to, one flow in one language.

A channel is named ``STREAMNAME-SOURCE_LANG-TARGET_LANG`` (``demo-en-de``; the source language
channel is ``demo-en-en``). Language codes may themselves contain hyphens (``es-419``), so a
name is never split on ``-``: it is resolved by exact lookup among registered channels.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

ServiceType = Literal["transcription", "translation"]


def channel_name(stream_name: str, source_lang: str, target_lang: str) -> str:
    """The channel name for ``stream_name`` translated from ``source_lang`` to ``target_lang``."""
    return f"{stream_name}-{source_lang}-{target_lang}"


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """One registered channel: its name, the flow it belongs to and its language."""

    name: str
    flow_id: str
    stream_name: str
    language: str
    service_type: ServiceType


def flow_channels(
    flow_id: str, stream_name: str, source_lang: str, target_langs: Iterable[str]
) -> list[ChannelInfo]:
    """The channels of one flow: the source language channel first, then one per target."""
    infos = [
        ChannelInfo(
            channel_name(stream_name, source_lang, source_lang),
            flow_id,
            stream_name,
            source_lang,
            "transcription",
        )
    ]
    for lang in target_langs:
        if lang == source_lang:
            continue
        infos.append(
            ChannelInfo(
                channel_name(stream_name, source_lang, lang),
                flow_id,
                stream_name,
                lang,
                "translation",
            )
        )
    return infos


class ChannelConflict(ValueError):
    """A channel name is already registered to another flow."""


class ChannelRegistry:
    """Every channel viewers may subscribe to, looked up by exact name."""

    def __init__(self) -> None:
        self._by_name: dict[str, ChannelInfo] = {}

    def register(self, info: ChannelInfo) -> None:
        """Add ``info``; registering the same channel again is a no-op.

        Raises ChannelConflict when the name belongs to a different flow.
        """
        known = self._by_name.get(info.name)
        if known is not None and known.flow_id != info.flow_id:
            raise ChannelConflict(f"channel {info.name!r} belongs to another flow")
        self._by_name[info.name] = info

    def register_all(self, infos: Iterable[ChannelInfo]) -> None:
        """Register several channels, all or none."""
        infos = list(infos)
        for info in infos:
            known = self._by_name.get(info.name)
            if known is not None and known.flow_id != info.flow_id:
                raise ChannelConflict(f"channel {info.name!r} belongs to another flow")
        for info in infos:
            self._by_name[info.name] = info

    def resolve(self, name: str) -> ChannelInfo | None:
        """The channel called exactly ``name``, or None."""
        return self._by_name.get(name)

    def for_flow(self, flow_id: str) -> list[ChannelInfo]:
        """The channels of one flow, in registration order."""
        return [i for i in self._by_name.values() if i.flow_id == flow_id]

    def unregister_flow(self, flow_id: str) -> list[ChannelInfo]:
        """Forget every channel of a flow and return them."""
        gone = self.for_flow(flow_id)
        for info in gone:
            del self._by_name[info.name]
        return gone

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[ChannelInfo]:
        return iter(list(self._by_name.values()))

    def __len__(self) -> int:
        return len(self._by_name)
