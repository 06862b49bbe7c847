"""Bitstreams: bit packing for side-info payloads and the ``.bgn`` container."""

from __future__ import annotations

from bandgen.bitstream.bits import BitReader, BitWriter, read_varint, write_varint
from bandgen.bitstream.container import (
    FORMAT_VERSION,
    MAGIC,
    SUPPORTED_VERSIONS,
    ChannelFrame,
    ContainerReader,
    ContainerWriter,
    Frame,
    decode_frame,
    encode_end,
    encode_frame,
    encode_header,
    read_container,
    write_container,
)

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "SUPPORTED_VERSIONS",
    "BitReader",
    "BitWriter",
    "ChannelFrame",
    "ContainerReader",
    "ContainerWriter",
    "Frame",
    "decode_frame",
    "encode_end",
    "encode_frame",
    "encode_header",
    "read_container",
    "read_varint",
    "write_container",
    "write_varint",
]
