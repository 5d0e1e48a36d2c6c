"""RTMP ingest: many publishers on one port, each selected by its stream key.

A pure protocol core that does no I/O, and a thin asyncio edge that drives it:

- ``amf0``: the AMF0 values commands and metadata are written in
- ``chunks``: chunk stream reassembly (:class:`ChunkReader`) and chunking (:class:`ChunkWriter`)
- ``messages``: message type ids, control payloads, aggregate messages
- ``handshake``: the plain C0/C1/C2 ↔ S0/S1/S2 handshake
- ``session``: :class:`RtmpServerSession`, bytes in, events and bytes out
- ``events``: what a session reports
- ``sink``: :class:`RtmpPublishSink` and the ``authorize`` callback type
- ``connection`` and ``server``: :class:`RtmpServer`, the asyncio edge
"""
