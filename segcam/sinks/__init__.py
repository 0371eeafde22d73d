"""Sinks: where output frames go (recorder, preview, virtual camera, memory, null)."""

from segcam.sinks.base import MemorySink, NullSink, Sink, StreamInfo

__all__ = ["MemorySink", "NullSink", "Sink", "StreamInfo"]
