"""``GET /v1/flows/{flow_id}/transcript``: a flow's captions so far, in one language, as
JSON, WebVTT, SRT or plain text (see ``core.exports``)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel

from captioncast.core.exports import TEXT_FORMATS, to_json_cues
from captioncast.errors import ApiError
from captioncast.web.services import Services

FORMATS = ("json", *TEXT_FORMATS)
JSON_MEDIA_TYPE = "application/json"


class CueOut(BaseModel):
    """One final caption block; times in seconds of the flow's audio clock."""

    id: str
    start: float
    end: float
    text: str
    lines: list[str]
    start_pts: float | None
    start_epoch: float
    sei_timestamp: float | None


class TranscriptOut(BaseModel):
    """``format=json``."""

    flow_id: str
    stream_name: str
    language: str
    cues: list[CueOut]


_TEXT_CONTENT = {f.media_type: {"schema": {"type": "string"}} for f in TEXT_FORMATS.values()}


def transcripts_router(services: Services) -> APIRouter:
    """The transcript route."""
    router = APIRouter(prefix="/v1/flows", tags=["transcripts"])

    @router.get(
        "/{flow_id}/transcript",
        response_class=Response,
        responses={200: {"model": TranscriptOut, "content": _TEXT_CONTENT}},
    )
    async def get_transcript(
        flow_id: str,
        language: Annotated[
            str | None,
            Query(max_length=35, description="the source or a target language of the flow"),
        ] = None,
        fmt: Annotated[
            str, Query(alias="format", max_length=16, json_schema_extra={"enum": list(FORMATS)})
        ] = "json",
    ) -> Response:
        """The flow's final captions so far in ``language`` (default: the source language),
        as ``json``, ``vtt``, ``srt`` or ``txt``."""
        if fmt not in FORMATS:
            raise ApiError(422, "invalid_format", f"format must be one of {', '.join(FORMATS)}")
        flow = await services.store.get(flow_id)
        language = language or flow.source_language
        if language not in (flow.source_language, *flow.target_languages):
            raise ApiError(404, "unknown_language", f"the flow has no language {language!r}")
        cues = await services.transcripts.cues(flow.flow_id, language)
        extension = "json" if fmt == "json" else TEXT_FORMATS[fmt].extension
        headers = {
            "Content-Disposition": f'inline; filename="{flow.stream_name}-{language}.{extension}"',
            "Cache-Control": "no-cache",  # it grows while the flow is live
        }
        if fmt == "json":
            body = {
                "flow_id": flow.flow_id,
                "stream_name": flow.stream_name,
                "language": language,
                "cues": to_json_cues(cues),
            }
            content = json.dumps(body, ensure_ascii=False)
            return Response(content, media_type=JSON_MEDIA_TYPE, headers=headers)
        export = TEXT_FORMATS[fmt]
        return Response(export.render(cues), media_type=export.media_type, headers=headers)

    return router
