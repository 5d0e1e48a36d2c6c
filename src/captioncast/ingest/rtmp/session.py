"""The server side of one RTMP connection, as a state machine that does no I/O.

Bytes from the peer go in through :meth:`RtmpServerSession.receive_data`, events come out of
:meth:`~RtmpServerSession.events_received`, bytes to write out of
:meth:`~RtmpServerSession.data_to_send`. The session answers the handshake and every command
by itself except ``publish``, which it reports as :class:`PublishRequested` and holds (later
messages wait, in order) until the driver calls :meth:`~RtmpServerSession.accept` or
:meth:`~RtmpServerSession.reject`. Anything the peer does wrong ends in one
:class:`ProtocolViolation` event and :attr:`~RtmpServerSession.close_expected`; no peer input
makes it raise.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable

from captioncast.errors import RtmpProtocolError
from captioncast.ingest.rtmp import amf0
from captioncast.ingest.rtmp import messages as msg
from captioncast.ingest.rtmp.chunks import MAX_MESSAGE_SIZE, ChunkReader, ChunkWriter
from captioncast.ingest.rtmp.events import (
    AudioData,
    Connected,
    Metadata,
    ProtocolViolation,
    PublishRequested,
    RtmpEvent,
    Unpublished,
    VideoData,
)
from captioncast.ingest.rtmp.handshake import ServerHandshake
from captioncast.ingest.rtmp.messages import RtmpMessage

MAX_STREAMS = 8
# Messages that may wait while the driver decides on a publish request.
MAX_HELD_MESSAGES = 1024

_UNPUBLISH_COMMANDS = frozenset({"FCUnpublish", "deleteStream", "closeStream"})


class SessionState(enum.Enum):
    """Where the connection stands."""

    AWAIT_C0C1 = "await_c0c1"
    AWAIT_C2 = "await_c2"
    AWAIT_CONNECT = "await_connect"
    CONNECTED = "connected"
    PUBLISH_PENDING = "publish_pending"
    PUBLISHING = "publishing"
    CLOSED = "closed"


class RtmpServerSession:
    """One publisher's connection, from the handshake to the last media message."""

    def __init__(
        self,
        *,
        chunk_size: int = 4096,
        window_ack_size: int = 2_500_000,
        max_message_size: int = MAX_MESSAGE_SIZE,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.state = SessionState.AWAIT_C0C1
        self.app: str | None = None
        self.stream_key: str | None = None
        self.close_expected = False
        self._chunk_size = chunk_size
        self._window_ack_size = window_ack_size
        self._reader = ChunkReader(max_message_size=max_message_size)
        self._writer = ChunkWriter()
        self._handshake = ServerHandshake(random_bytes)
        self._events: list[RtmpEvent] = []
        self._out = bytearray()
        self._held: list[RtmpMessage] = []
        self._streams_created = 0
        self._publish_stream_id = 0
        self._bytes_in = 0
        self._acked = 0
        self._peer_window = 0

    # -- the driver's side ---------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Take bytes from the peer."""
        if self.state is SessionState.CLOSED or not data:
            return
        self._bytes_in += len(data)
        try:
            if self.state in (SessionState.AWAIT_C0C1, SessionState.AWAIT_C2):
                data = self._receive_handshake(data)
            if data:
                self._dispatch(self._reader.feed(data))
            self._maybe_acknowledge()
        except RtmpProtocolError as exc:
            self._fail(str(exc))

    def events_received(self) -> list[RtmpEvent]:
        """Return and forget the events since the last call."""
        events, self._events = self._events, []
        return events

    def data_to_send(self) -> bytes:
        """Return and forget the bytes to write to the peer."""
        out, self._out = bytes(self._out), bytearray()
        return out

    def accept(self) -> None:
        """Grant the pending publish request, then handle the messages that waited."""
        self._require(SessionState.PUBLISH_PENDING)
        self.state = SessionState.PUBLISHING
        sid = self._publish_stream_id
        self._send(msg.CONTROL_CSID, msg.USER_CONTROL, 0, msg.user_control(msg.STREAM_BEGIN, sid))
        self._on_status("status", "NetStream.Publish.Start", f"{self.stream_key} is now published.")
        held, self._held = self._held, []
        try:
            self._dispatch(held)
        except RtmpProtocolError as exc:
            self._fail(str(exc))

    def reject(self, reason: str) -> None:
        """Refuse the pending publish request with ``reason`` (sent to the peer), then close."""
        self._require(SessionState.PUBLISH_PENDING)
        self._on_status("error", "NetStream.Publish.BadName", reason)
        self._held = []
        self.state = SessionState.CLOSED
        self.close_expected = True

    def _require(self, state: SessionState) -> None:
        if self.state is not state:
            raise RuntimeError(f"session is {self.state.value}, not {state.value}")

    def _fail(self, reason: str) -> None:
        self._events.append(ProtocolViolation(reason))
        self._held = []
        self.state = SessionState.CLOSED
        self.close_expected = True

    def _receive_handshake(self, data: bytes) -> bytes:
        """Consume handshake bytes; return what follows the handshake."""
        reply, rest = self._handshake.receive(data)
        self._out += reply
        if reply:
            self.state = SessionState.AWAIT_C2
        if self._handshake.done:
            self.state = SessionState.AWAIT_CONNECT
        return rest

    def _maybe_acknowledge(self) -> None:
        if self._peer_window and self._bytes_in - self._acked >= self._peer_window:
            self._acked = self._bytes_in
            self._send(msg.CONTROL_CSID, msg.ACKNOWLEDGEMENT, 0, msg.uint32(self._bytes_in))

    # -- messages ----------------------------------------------------------------------------

    def _dispatch(self, messages: list[RtmpMessage]) -> None:
        for index, message in enumerate(messages):
            if self.state is SessionState.CLOSED:
                return
            if self.state is SessionState.PUBLISH_PENDING:
                self._held.extend(messages[index:])
                if len(self._held) > MAX_HELD_MESSAGES:
                    raise RtmpProtocolError("too many messages before the publish was answered")
                return
            self._handle(message)

    def _handle(self, message: RtmpMessage) -> None:
        kind = message.type_id
        if kind == msg.WINDOW_ACK_SIZE and len(message.payload) >= 4:
            self._peer_window = int.from_bytes(message.payload[:4], "big")
        elif kind == msg.USER_CONTROL:
            self._user_control(message.payload)
        elif kind in (msg.COMMAND_AMF0, msg.COMMAND_AMF3):
            self._command(message)
        elif kind in (msg.DATA_AMF0, msg.DATA_AMF3):
            self._data(message)
        elif kind in (msg.AUDIO, msg.VIDEO):
            self._media(kind, message.stream_id, message.timestamp, message.payload)
        elif kind == msg.AGGREGATE:
            for sub in msg.split_aggregate(message):
                if sub.type_id in (msg.AUDIO, msg.VIDEO, msg.DATA_AMF0):  # never nested
                    self._handle(sub)
        # Everything else (acks, bandwidth, shared objects) needs nothing from an ingest server.

    def _user_control(self, payload: bytes) -> None:
        if len(payload) >= 6 and int.from_bytes(payload[:2], "big") == msg.PING_REQUEST:
            value = int.from_bytes(payload[2:6], "big")
            self._send(
                msg.CONTROL_CSID, msg.USER_CONTROL, 0, msg.user_control(msg.PING_RESPONSE, value)
            )

    def _media(self, kind: int, stream_id: int, timestamp: int, payload: bytes) -> None:
        # Media on any stream but the granted one, or before the grant, is dropped.
        if self.state is not SessionState.PUBLISHING or stream_id != self._publish_stream_id:
            return
        if not payload:
            return
        if kind == msg.AUDIO:
            self._events.append(AudioData(timestamp, payload))
        else:
            self._events.append(VideoData(timestamp, payload))

    def _data(self, message: RtmpMessage) -> None:
        if self.state is not SessionState.PUBLISHING:
            return
        try:
            values = amf0.decode_all(msg.amf0_body(message))
        except RtmpProtocolError:
            return  # bad metadata is not worth dropping the stream for
        if values[:1] == ["@setDataFrame"]:
            values = values[1:]
        if len(values) >= 2 and values[0] == "onMetaData" and isinstance(values[1], dict):
            self._events.append(Metadata(dict(values[1])))

    def _command(self, message: RtmpMessage) -> None:
        values = amf0.decode_all(msg.amf0_body(message))
        if len(values) < 2 or not isinstance(values[0], str) or not isinstance(values[1], float):
            raise RtmpProtocolError("command without a name and transaction id")
        name, txn, args = values[0], values[1], values[2:]
        if self.state is SessionState.AWAIT_CONNECT:
            if name != "connect":
                raise RtmpProtocolError(f"command {name!r} before connect")
            self._connect(txn, args)
        elif name == "connect":
            raise RtmpProtocolError("second connect on one connection")
        elif name in ("releaseStream", "FCPublish"):
            self._result(txn, None, None)
        elif name == "createStream":
            self._create_stream(txn)
        elif name == "publish":
            self._publish(message.stream_id, args)
        elif name in _UNPUBLISH_COMMANDS:
            if self.state is SessionState.PUBLISHING:
                self.state = SessionState.CONNECTED
                self._events.append(Unpublished())
        # Other commands (play, getStreamLength, _checkbw…) are ignored: this is ingest only.

    def _connect(self, txn: float, args: list[amf0.AmfValue]) -> None:
        command_object = args[0] if args and isinstance(args[0], dict) else None
        app = command_object.get("app") if command_object is not None else None
        if not isinstance(app, str):
            raise RtmpProtocolError("connect without an app name")
        tc_url = command_object.get("tcUrl") if command_object is not None else None
        self.app = app.strip("/")
        self.state = SessionState.CONNECTED
        self._send(msg.CONTROL_CSID, msg.WINDOW_ACK_SIZE, 0, msg.uint32(self._window_ack_size))
        self._send(
            msg.CONTROL_CSID,
            msg.SET_PEER_BANDWIDTH,
            0,
            msg.set_peer_bandwidth(self._window_ack_size),
        )
        self._send(msg.CONTROL_CSID, msg.SET_CHUNK_SIZE, 0, msg.uint32(self._chunk_size))
        self._writer.chunk_size = self._chunk_size
        self._result(
            txn,
            {"fmsVer": "FMS/3,0,1,123", "capabilities": 31},
            {
                "level": "status",
                "code": "NetConnection.Connect.Success",
                "description": "Connection succeeded.",
                "objectEncoding": 0,
            },
        )
        self._events.append(Connected(self.app, tc_url if isinstance(tc_url, str) else None))

    def _create_stream(self, txn: float) -> None:
        if self._streams_created >= MAX_STREAMS:
            raise RtmpProtocolError("too many createStream calls")
        self._streams_created += 1
        self._result(txn, None, self._streams_created)

    def _publish(self, stream_id: int, args: list[amf0.AmfValue]) -> None:
        if self.state is not SessionState.CONNECTED:
            raise RtmpProtocolError(f"publish while {self.state.value}")
        if not 1 <= stream_id <= self._streams_created:
            raise RtmpProtocolError(f"publish on stream {stream_id}, which was never created")
        name = args[1] if len(args) >= 2 else None
        if not isinstance(name, str) or not name:
            raise RtmpProtocolError("publish without a stream name")
        self._publish_stream_id = stream_id
        self.stream_key = name
        self.state = SessionState.PUBLISH_PENDING
        self._events.append(PublishRequested(self.app or "", name))

    # -- output ------------------------------------------------------------------------------

    def _send(self, csid: int, type_id: int, stream_id: int, payload: bytes) -> None:
        self._out += self._writer.write(csid, type_id, stream_id, 0, payload)

    def _result(self, txn: float, *values: object) -> None:
        if txn:  # transaction id 0 asks for no answer
            self._send(msg.COMMAND_CSID, msg.COMMAND_AMF0, 0, amf0.encode("_result", txn, *values))

    def _on_status(self, level: str, code: str, description: str) -> None:
        info = {"level": level, "code": code, "description": description}
        self._send(
            msg.STREAM_CSID,
            msg.COMMAND_AMF0,
            self._publish_stream_id,
            amf0.encode("onStatus", 0, None, info),
        )
