"""Broker envelopes against the JSON Schema of the wire format (schema/wire.schema.json)."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from captioncast.core.replay import ReplayLog
from captioncast.schema import load_schema


def sample_response() -> dict[str, Any]:
    speaker = "5f0c6c1e-8a51-4a6c-9c47-0d3cdb2c1f11"
    return {
        "id": "0b7d6f0e-2f3c-4d8e-9f0a-1b2c3d4e5f60",
        "type": "captions",
        "service_type": "transcription",
        "language_code": "en",
        "start": 12.34,
        "end": 14.1,
        "start_pts": 3.2,
        "start_epoch": 1796730841.2,
        "sei_timestamp": None,
        "is_final": True,
        "is_end_of_stream": False,
        "speakers": [{"id": speaker, "label": None}],
        "alternatives": [
            {
                "transcript": "Hello, world.",
                "start": 12.34,
                "end": 14.1,
                "start_pts": 3.2,
                "start_epoch": 1796730841.2,
                "lines": ["Hello, world."],
                "items": [
                    {
                        "start": 12.34,
                        "end": 12.61,
                        "kind": "text",
                        "value": "Hello",
                        "speaker_id": speaker,
                    },
                    {
                        "start": 12.61,
                        "end": 12.61,
                        "kind": "punct",
                        "value": ",",
                        "speaker_id": speaker,
                    },
                ],
            }
        ],
    }


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_a_published_envelope_is_valid(validator: jsonschema.Draft202012Validator) -> None:
    envelope = ReplayLog("demo-en-en").append(sample_response())
    validator.validate(json.loads(envelope.text))


def test_lines_are_optional_and_pts_may_be_null(
    validator: jsonschema.Draft202012Validator,
) -> None:
    response = sample_response()
    response["type"] = "transcript"
    response["start_pts"] = None
    del response["alternatives"][0]["lines"]
    response["alternatives"][0]["start_pts"] = None
    validator.validate({"seq": 1, "epoch": "ab", "channel": "c", "response": response})


def _broken() -> list[dict[str, Any]]:
    good = {"seq": 1, "epoch": "ab", "channel": "c", "response": sample_response()}
    cases: list[dict[str, Any]] = []

    def variant(change: Any) -> None:
        case = copy.deepcopy(good)
        change(case)
        cases.append(case)

    variant(lambda e: e.update(extra=1))
    variant(lambda e: e.pop("epoch"))
    variant(lambda e: e.update(seq=0))
    variant(lambda e: e["response"].update(type="subtitle"))
    variant(lambda e: e["response"].update(service_type="dubbing"))
    variant(lambda e: e["response"].pop("is_final"))
    variant(lambda e: e["response"].update(surprise=True))
    variant(lambda e: e["response"]["alternatives"][0].update(lines="one line"))
    variant(lambda e: e["response"]["alternatives"][0]["items"][0].update(kind="word"))
    variant(lambda e: e["response"]["alternatives"][0]["items"][0].pop("speaker_id"))
    variant(lambda e: e["response"].update(start_epoch=None))
    return cases


@pytest.mark.parametrize("envelope", _broken())
def test_the_schema_is_strict(
    validator: jsonschema.Draft202012Validator, envelope: dict[str, Any]
) -> None:
    assert not validator.is_valid(envelope)
