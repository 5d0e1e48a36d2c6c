from __future__ import annotations

import pytest

from captioncast.core.channels import (
    ChannelConflict,
    ChannelInfo,
    ChannelRegistry,
    channel_name,
    flow_channels,
)


def test_channel_name_joins_stream_and_languages() -> None:
    assert channel_name("demo", "en", "de") == "demo-en-de"
    assert channel_name("demo", "en", "en") == "demo-en-en"
    assert channel_name("demo", "en", "es-419") == "demo-en-es-419"


def test_flow_channels_source_first_then_targets() -> None:
    infos = flow_channels("f1", "demo", "en", ["es-419", "de"])
    assert [(i.name, i.language, i.service_type) for i in infos] == [
        ("demo-en-en", "en", "transcription"),
        ("demo-en-es-419", "es-419", "translation"),
        ("demo-en-de", "de", "translation"),
    ]
    assert {i.flow_id for i in infos} == {"f1"}
    assert {i.stream_name for i in infos} == {"demo"}


def test_resolve_is_exact_even_with_hyphenated_languages() -> None:
    registry = ChannelRegistry()
    registry.register_all(flow_channels("f1", "demo", "en", ["es-419"]))
    registry.register_all(flow_channels("f2", "demo_es", "es", ["en"]))
    info = registry.resolve("demo-en-es-419")
    assert info is not None and info.language == "es-419" and info.flow_id == "f1"
    assert registry.resolve("demo-en-es") is None
    assert registry.resolve("demo-en") is None
    assert registry.resolve("DEMO-en-en") is None
    assert registry.resolve("demo_es-es-en") == ChannelInfo(
        "demo_es-es-en", "f2", "demo_es", "en", "translation"
    )


def test_register_is_idempotent_but_refuses_another_flows_name() -> None:
    registry = ChannelRegistry()
    infos = flow_channels("f1", "demo", "en", ["de"])
    registry.register_all(infos)
    registry.register_all(infos)
    assert len(registry) == 2
    with pytest.raises(ChannelConflict):
        registry.register_all(flow_channels("f2", "demo", "en", ["fr"]))
    # all or none: the non-conflicting demo-en-fr was not added either
    assert "demo-en-fr" not in registry
    with pytest.raises(ChannelConflict):
        registry.register(ChannelInfo("demo-en-de", "f3", "demo", "de", "translation"))


def test_unregister_flow_forgets_only_that_flow() -> None:
    registry = ChannelRegistry()
    registry.register_all(flow_channels("f1", "a", "en", ["de"]))
    registry.register_all(flow_channels("f2", "b", "en", []))
    gone = registry.unregister_flow("f1")
    assert sorted(i.name for i in gone) == ["a-en-de", "a-en-en"]
    assert [i.name for i in registry] == ["b-en-en"]
    assert registry.for_flow("f1") == []
    assert registry.unregister_flow("f1") == []
