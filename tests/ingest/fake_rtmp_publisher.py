"""A tiny RTMP publisher encoder for tests: the bytes OBS or ffmpeg would send, and a reader
for what the server answers."""

from __future__ import annotations

from dataclasses import dataclass, field

from captioncast.ingest.rtmp import amf0
from captioncast.ingest.rtmp import messages as msg
from captioncast.ingest.rtmp.chunks import ChunkReader, ChunkWriter, RtmpMessage

HANDSHAKE_SIZE = 1536
C1 = bytes(range(256)) * 6  # 1536 recognisable bytes


@dataclass
class FakePublisher:
    """Builds a publisher's byte stream, message by message."""

    chunk_size: int = 128
    writer: ChunkWriter = field(init=False)

    def __post_init__(self) -> None:
        self.writer = ChunkWriter(self.chunk_size)

    @staticmethod
    def c0c1() -> bytes:
        return b"\x03" + C1

    @staticmethod
    def c2(server_handshake: bytes) -> bytes:
        """C2 echoes S1, which follows S0 in the server's first reply."""
        return server_handshake[1 : 1 + HANDSHAKE_SIZE]

    def command(self, name: str, txn: float, *args: object, stream_id: int = 0) -> bytes:
        payload = amf0.encode(name, txn, *args)
        csid = msg.COMMAND_CSID if stream_id == 0 else 8
        return self.writer.write(csid, msg.COMMAND_AMF0, stream_id, 0, payload)

    def connect(self, app: str = "live") -> bytes:
        return self.command(
            "connect", 1, {"app": app, "type": "nonprivate", "tcUrl": f"rtmp://127.0.0.1/{app}"}
        )

    def publish_sequence(self, key: str) -> bytes:
        """releaseStream, FCPublish, createStream, then publish on stream 1, as ffmpeg sends."""
        return (
            self.command("releaseStream", 2, None, key)
            + self.command("FCPublish", 3, None, key)
            + self.command("createStream", 4, None)
            + self.command("publish", 5, None, key, "live", stream_id=1)
        )

    def set_chunk_size(self, size: int) -> bytes:
        out = self.writer.write(msg.CONTROL_CSID, msg.SET_CHUNK_SIZE, 0, 0, msg.uint32(size))
        self.writer.chunk_size = size
        return out

    def audio(self, timestamp: int, payload: bytes, stream_id: int = 1) -> bytes:
        return self.writer.write(4, msg.AUDIO, stream_id, timestamp, payload)

    def video(self, timestamp: int, payload: bytes, stream_id: int = 1) -> bytes:
        return self.writer.write(6, msg.VIDEO, stream_id, timestamp, payload)

    def metadata(self, values: dict[str, object], stream_id: int = 1) -> bytes:
        payload = amf0.encode("@setDataFrame", "onMetaData", amf0.EcmaArray(values))  # type: ignore[arg-type]
        return self.writer.write(4, msg.DATA_AMF0, stream_id, 0, payload)

    def control(self, type_id: int, payload: bytes) -> bytes:
        return self.writer.write(msg.CONTROL_CSID, type_id, 0, 0, payload)


@dataclass
class ServerReplies:
    """Reads what the server sends after its 3073 handshake bytes."""

    reader: ChunkReader = field(default_factory=ChunkReader)
    messages: list[RtmpMessage] = field(default_factory=list)

    def feed(self, data: bytes) -> list[RtmpMessage]:
        new = self.reader.feed(data)
        self.messages.extend(new)
        return new

    def commands(self) -> list[list[amf0.AmfValue]]:
        return [amf0.decode_all(m.payload) for m in self.messages if m.type_id == msg.COMMAND_AMF0]

    def of_type(self, type_id: int) -> list[RtmpMessage]:
        return [m for m in self.messages if m.type_id == type_id]
