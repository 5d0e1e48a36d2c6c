"""``/v1/flows``: create, list, get, delete, start and stop flows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from urllib.parse import urlencode

from fastapi import APIRouter, Response

from captioncast.core.channels import flow_channels
from captioncast.core.layout import CaptionLayout
from captioncast.errors import ApiError
from captioncast.store.base import (
    FlowRecord,
    FlowSpec,
    FlowStatus,
    InvalidFlow,
    InvalidTransition,
    NoFreePort,
    StreamNameTaken,
)
from captioncast.web.api_languages import check_language_pairs
from captioncast.web.models import (
    CaptionOut,
    ChannelOut,
    FlowIn,
    FlowList,
    FlowOut,
    IngestOut,
    RtmpDetails,
    SrtDetails,
)
from captioncast.web.services import Services

log = logging.getLogger(__name__)


def flow_out(flow: FlowRecord, services: Services) -> FlowOut:
    """The API view of a flow."""
    channels = flow_channels(
        flow.flow_id, flow.stream_name, flow.source_language, flow.target_languages
    )
    return FlowOut(
        flow_id=flow.flow_id,
        name=flow.name,
        stream_name=flow.stream_name,
        source=flow.source,
        url=flow.url,
        status=flow.status,
        error=flow.error,
        source_language=flow.source_language,
        target_languages=list(flow.target_languages),
        max_latency=flow.max_latency,
        caption=CaptionOut(
            max_chars_per_line=flow.caption.max_chars_per_line,
            max_lines=flow.caption.max_lines,
        ),
        model=flow.model,
        rtmp_details=_rtmp_details(flow, services),
        srt_details=_srt_details(flow, services),
        ingest=_ingest(flow, services),
        channels=[
            ChannelOut(
                name=c.name,
                language=c.language,
                service_type=c.service_type,
                viewers=viewers(services, c.name),
            )
            for c in channels
        ],
        created_at=flow.created_at,
        updated_at=flow.updated_at,
    )


def viewers(services: Services, channel: str) -> int:
    """Viewers of a channel now: native subscriptions plus Pusher ones (the Pusher gateway's
    own relay subscription is not a viewer)."""
    count = services.broker.subscriber_count(channel)
    if services.pusher is not None:
        count += services.pusher.viewers(channel) - services.pusher.relays(channel)
    return count


def _ingest(flow: FlowRecord, services: Services) -> IngestOut | None:
    state = services.runtime.ingest_state(flow.flow_id)
    return None if state is None else IngestOut.model_validate(state)


def _rtmp_details(flow: FlowRecord, services: Services) -> RtmpDetails | None:
    if flow.source != "rtmp_push":
        return None
    url = services.runtime.rtmp_url(flow)
    full_url = f"{url.rstrip('/')}/{flow.stream_key}"
    return RtmpDetails(url=url, stream_key=flow.stream_key, full_url=full_url)


def _srt_details(flow: FlowRecord, services: Services) -> SrtDetails | None:
    if flow.source != "srt_push" or flow.srt_port is None:
        return None
    host = services.runtime.srt_host()
    bracketed = f"[{host}]" if ":" in host else host
    # The stream key is URL-safe and 32 characters: a valid SRT passphrase (10-79).
    query = urlencode({"streamid": flow.stream_name, "passphrase": flow.stream_key})
    return SrtDetails(
        host=host,
        port=flow.srt_port,
        passphrase=flow.stream_key,
        streamid=flow.stream_name,
        full_url=f"srt://{bracketed}:{flow.srt_port}?{query}",
    )


def _conflict(exc: InvalidTransition, action: str) -> ApiError:
    return ApiError(409, "invalid_transition", f"cannot {action} a flow that is {exc.current}")


async def stop_flow(services: Services, flow: FlowRecord) -> FlowRecord:
    """Stop an active flow: ``stopping``, runtime stop, then ``ended``. Raises ApiError."""
    try:
        flow = await services.store.update_status(flow.flow_id, FlowStatus.STOPPING)
    except InvalidTransition as exc:
        raise _conflict(exc, "stop") from exc
    try:
        await services.runtime.stop(flow)
    except Exception as exc:
        log.exception("stopping flow %s failed", flow.flow_id)
        with contextlib.suppress(InvalidTransition):
            await services.store.update_status(flow.flow_id, FlowStatus.ERROR, "stop failed")
        raise ApiError(500, "stop_failed", "the flow could not be stopped cleanly") from exc
    try:
        return await services.store.update_status(flow.flow_id, FlowStatus.ENDED)
    except InvalidTransition:
        return await services.store.get(flow.flow_id)  # the runtime already settled it


def flows_router(services: Services) -> APIRouter:
    """The flow management routes."""
    router = APIRouter(prefix="/v1/flows", tags=["flows"])

    @router.post("", status_code=201, response_model=FlowOut)
    async def create_flow(body: FlowIn) -> FlowOut:
        """Create a flow; it starts in ``created``."""
        try:
            spec = FlowSpec(
                name=body.name,
                source_language=body.source_language,
                target_languages=tuple(body.target_languages),
                source=body.source,
                url=body.url,
                max_latency=body.max_latency,
                caption=CaptionLayout(body.caption.max_chars_per_line, body.caption.max_lines),
                model=body.model,
            )
        except InvalidFlow as exc:
            raise ApiError(422, "invalid_flow", str(exc)) from exc
        if services.translators is not None:
            await check_language_pairs(
                services.translators, spec.source_language, spec.target_languages
            )
        try:
            flow = await services.store.create(spec)
        except StreamNameTaken as exc:
            raise ApiError(409, "name_taken", str(exc)) from exc
        except NoFreePort as exc:
            raise ApiError(503, "no_srt_port", str(exc)) from exc
        services.open_channels(flow)
        return flow_out(flow, services)

    @router.get("", response_model=FlowList)
    async def list_flows() -> FlowList:
        """Every flow, oldest first."""
        return FlowList(flows=[flow_out(f, services) for f in await services.store.list()])

    @router.get("/{flow_id}", response_model=FlowOut)
    async def get_flow(flow_id: str) -> FlowOut:
        """One flow."""
        return flow_out(await services.store.get(flow_id), services)

    @router.delete("/{flow_id}", status_code=204, response_class=Response)
    async def delete_flow(flow_id: str) -> Response:
        """Delete a flow, its transcripts and its HLS files, stopping it first if it runs."""
        flow = await services.store.get(flow_id)
        if flow.status in (FlowStatus.STARTING, FlowStatus.LIVE):
            await stop_flow(services, flow)
        await services.store.delete(flow_id)
        await services.transcripts.delete_flow(flow_id)
        if services.hls_dir is not None:
            hls = services.hls_dir / flow.stream_name
            await asyncio.to_thread(shutil.rmtree, hls, ignore_errors=True)
        services.close_channels(flow_id)
        return Response(status_code=204)

    @router.post("/{flow_id}/start", response_model=FlowOut)
    async def start_flow(flow_id: str) -> FlowOut:
        """Start accepting the publisher (``created``/``ended``/``error`` → ``starting``)."""
        flow = await services.store.get(flow_id)
        try:
            flow = await services.store.update_status(flow_id, FlowStatus.STARTING)
        except InvalidTransition as exc:
            raise _conflict(exc, "start") from exc
        services.open_channels(flow)
        try:
            await services.runtime.start(flow)
        except Exception as exc:
            log.exception("starting flow %s failed", flow_id)
            with contextlib.suppress(InvalidTransition):
                await services.store.update_status(flow_id, FlowStatus.ERROR, "start failed")
            raise ApiError(500, "start_failed", "the flow could not be started") from exc
        return flow_out(await services.store.get(flow_id), services)

    @router.post("/{flow_id}/stop", response_model=FlowOut)
    async def stop(flow_id: str) -> FlowOut:
        """Stop a flow: flush, end of stream, ``ended``."""
        flow = await services.store.get(flow_id)
        return flow_out(await stop_flow(services, flow), services)

    return router
