"""Encode once, write to many: an :class:`Encoder` sink and its :class:`Output` s.

The split follows picamera2's Encoder/Output: the encoder turns frames into
compressed packets once, and hands every packet to each attached output (a file,
a network stream). Outputs attach and detach while the encoder runs, and the
encoder runs while the session's frames flow, so a recording can start while a
stream goes on, in one encode.

* :class:`Encoder` is a :class:`~segcam.sinks.base.Sink`. ``submit`` (worker
  thread) copies the output into a PyAV frame, fitted to the encoder's size and
  channel count (the source may switch to another size mid-recording; the
  background may turn transparent), and queues it; a full queue drops the frame
  (counted in :attr:`Encoder.dropped`), so a slow encoder never stalls the preview
  or the virtual camera; for a stream that is not live (a file job) it waits
  instead. Encoding and muxing run on the encoder's own thread.
  While no output is attached, frames are not even copied.
* H.264 (``libx264``, zerolatency, a keyframe a second) with its headers stored
  once (global header), which every container we write takes: fragmented MP4,
  Matroska, FLV and MPEG-TS (whose muxer repeats the headers before each
  keyframe). With a transparent background it is VP9 with alpha, for WebM.
* An output attached to a running encoder starts at a keyframe: the encoder forces
  one on the next frame, and the output skips packets until then. Each output's
  timestamps start at 0.
* Outputs are written on the encoder's thread, so one that blocks (a stream whose
  receiver stops reading) holds the others for at most FFmpeg's ``rw_timeout``
  (:data:`~segcam.sinks.recorder.NETWORK_TIMEOUT_S`); it then fails, is detached
  and reported through ``on_output_error``, and the others go on.

``segcam record`` keeps :class:`~segcam.sinks.recorder.Recorder` (one output, with
the input's audio carried over, PNG sequences, pacing a file job to a stream);
this module is what a live session attaches and detaches.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from fractions import Fraction

import av
import cv2
import numpy as np

from segcam.channels import END, BoundedQueue
from segcam.errors import OutputError, SegcamError, one_line
from segcam.frame import Frame
from segcam.outputs import discard, partial_path, publish
from segcam.sinks.base import StreamInfo
from segcam.sinks.recorder import (
    QUEUE_FRAMES,
    TIME_BASE,
    check_output_path,
    connect_stream,
    count_video_frames,
    display_name,
    is_stream_url,
    stream_error,
    stream_target,
)

log = logging.getLogger(__name__)

_FILE_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mp4", ".mkv": "matroska", ".webm": "webm"}


class Output:
    """Where an :class:`Encoder`'s packets go. Subclasses open a container.

    ``open`` runs on the thread that attaches the output; ``write`` on the encoder's
    thread; ``close`` on whichever thread detaches it, after the encoder has stopped
    writing to it. ``error`` is set when a write failed (the output is then detached).
    """

    def __init__(self, target: str) -> None:
        self.target = target
        self.name = display_name(target)
        self.error: SegcamError | None = None
        self.packets = 0
        """Video packets written (one per frame)."""
        self.container: av.container.OutputContainer | None = None
        self.stream = None
        self._offset: int | None = None  # pts of the first packet written

    def open(self, template, *, transparent: bool) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def write(self, packet: av.Packet) -> None:
        """Mux ``packet`` (a copy the output owns), timestamps rebased to start at 0."""
        assert self.container is not None
        if self._offset is None:
            if not packet.is_keyframe:
                return  # start at a keyframe: the encoder forces one when we attach
            self._offset = packet.pts
        pts = packet.pts - self._offset
        packet.dts = pts if packet.dts is None else packet.dts - self._offset
        packet.pts = pts
        packet.stream = self.stream
        self.container.mux(packet)
        self.packets += 1

    def close(self) -> None:
        if self.container is not None:
            container, self.container = self.container, None
            container.close()


class FileOutput(Output):
    """A video file: fragmented MP4 (``.mp4``), Matroska (``.mkv``) or WebM (``.webm``).

    Written under a temporary name in the same folder and renamed to ``path`` once it
    holds a frame (:mod:`segcam.outputs`): a crash never leaves a file that looks
    complete and holds nothing, and an existing file is replaced only with
    ``overwrite``; ``inputs`` are files the output must not be.
    """

    def __init__(self, path: str, *, overwrite: bool = False, inputs: Sequence[str] = ()) -> None:
        super().__init__(path)
        self.overwrite = overwrite
        self.inputs = tuple(inputs)
        self.tmp: str | None = None
        self._header = 0

    def open(self, template, *, transparent: bool) -> None:
        path = self.target
        check_output_path(
            path, transparent=transparent, overwrite=self.overwrite, inputs=self.inputs
        )
        ext = os.path.splitext(path)[1].lower()
        fmt = _FILE_FORMATS.get(ext)
        if fmt is None or is_stream_url(path):
            raise OutputError(
                f"unsupported output type {ext or '(none)'} for {path}: use .mp4, .mkv or .webm"
            )
        if (fmt == "webm") != (template.codec_context.name == "libvpx-vp9"):
            raise OutputError(
                f"{ext} does not fit this recording: use .webm with a transparent background, "
                ".mp4 or .mkv otherwise"
            )
        options = {"flush_packets": "1"}
        if fmt == "mp4":
            options["movflags"] = "frag_keyframe+empty_moov+default_base_moof"
        else:
            options["cluster_time_limit"] = "1000"
        self.tmp = partial_path(path)
        try:
            self.container = av.open(self.tmp, "w", format=fmt, container_options=options)
            self.stream = self.container.add_stream_from_template(template)
            self.container.start_encoding()
            self._header = os.path.getsize(self.tmp)
        except (av.error.FFmpegError, OSError) as e:
            self._abandon()
            raise OutputError(
                f"cannot create {self.name}: {getattr(e, 'strerror', None) or e}"
            ) from None

    def write(self, packet: av.Packet) -> None:
        super().write(packet)
        if self.tmp is not None and self.packets and os.path.getsize(self.tmp) > self._header:
            publish(self.tmp, self.target, overwrite=self.overwrite)
            self.tmp = None

    def _abandon(self) -> None:
        try:
            super().close()
        except Exception:
            log.debug("closing %s failed", self.name, exc_info=True)
        discard(self.tmp)
        self.tmp = None

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.tmp is not None:
                # A short recording reaches the disk only now: publish it if it holds
                # a frame, never leave an empty file that looks like a video.
                if self.packets and count_video_frames(self.tmp):
                    publish(self.tmp, self.target, overwrite=self.overwrite)
                else:
                    discard(self.tmp)
                self.tmp = None


class StreamOutput(Output):
    """A live stream: ``rtmp(s)://`` (FLV) or ``udp://`` / ``srt://`` (MPEG-TS).

    Opened through FFmpeg's tee muxer so that every network wait is bounded by
    ``rw_timeout`` (see :mod:`segcam.sinks.recorder`); the stream key never appears
    in messages.
    """

    def open(self, template, *, transparent: bool) -> None:
        url = self.target
        check_output_path(url, transparent=transparent)
        if template.codec_context.name != "libx264":
            raise OutputError("a stream (H.264) cannot carry transparency")
        _, target = stream_target(url)
        try:
            self.container = av.open(
                target, "w", format="tee", container_options={"flush_packets": "1"}
            )
            self.stream = self.container.add_stream_from_template(template)
            connect_stream(self.container)
        except av.error.FFmpegError as e:
            try:
                super().close()
            except Exception:
                log.debug("closing %s failed", self.name, exc_info=True)
            raise OutputError(stream_error(url, e)) from None


def output_for(target: str, **kwargs) -> Output:
    """A :class:`StreamOutput` for a URL, a :class:`FileOutput` otherwise."""
    return StreamOutput(target) if is_stream_url(target) else FileOutput(target, **kwargs)


class Encoder:
    """A sink that encodes once for every attached :class:`Output` (see module docs).

    Args:
        size: the encoded ``(width, height)``; default: the stream's (rounded down to
            even). Frames of another size are cover-fitted (scaled, centre-cropped).
        fps: the nominal rate written in the containers; default: the stream's.
        mirror: flip the encoded picture left-right (off: recordings show you as
            others see you).
        on_output_error: called on the encoder's thread with an output that failed
            and has been detached (its ``error`` says why); must not block.
    """

    def __init__(
        self,
        *,
        size: tuple[int, int] | None = None,
        fps: float | None = None,
        crf: int = 20,
        preset: str = "veryfast",
        mirror: bool = False,
        on_output_error: Callable[[Output], None] | None = None,
    ) -> None:
        self.requested_size = size
        self.requested_fps = fps
        self.crf = crf
        self.preset = preset
        self.mirror = mirror
        self.on_output_error = on_output_error
        self.error: BaseException | None = None
        self.dropped = 0
        self.frames_encoded = 0
        self.size: tuple[int, int] | None = None
        self.fps = 30.0
        self.transparent = False
        self._null: av.container.OutputContainer | None = None
        self._stream = None
        self._queue: BoundedQueue[object] = BoundedQueue(QUEUE_FRAMES)
        self._thread: threading.Thread | None = None
        self._outputs: tuple[Output, ...] = ()
        self._lock = threading.Lock()
        self._writing = threading.Lock()  # held while packets go to the outputs
        self._want_key = False
        self._t0: float | None = None
        self._last_pts = -1
        self._fit: np.ndarray | None = None
        self._convert: np.ndarray | None = None
        self._flip: np.ndarray | None = None
        self._stopped = False

    # -- control ----------------------------------------------------------------------

    def start(self, info: StreamInfo) -> None:
        """Open the codec (no output yet) and start the encoding thread."""
        w, h = self.requested_size or info.size
        w, h = w - w % 2, h - h % 2
        self.size = (w, h)
        self.fps = float(self.requested_fps or info.fps or 30.0)
        self.transparent = info.transparent
        self._live = info.live
        rate = Fraction(self.fps).limit_denominator(1001)
        # The encoder is a stream of a "null" container: that gives it the codec
        # parameters (and headers) each output's stream is copied from.
        self._null = av.open(os.devnull, "w", format="null")
        if self.transparent:
            stream = self._null.add_stream("libvpx-vp9", rate=rate)
            stream.pix_fmt = "yuva420p"
            stream.options = {"crf": "32", "b": "0", "deadline": "realtime", "cpu-used": "8"}
        else:
            stream = self._null.add_stream("libx264", rate=rate)
            stream.pix_fmt = "yuv420p"
            stream.options = {
                "preset": self.preset,
                "crf": str(self.crf),
                "tune": "zerolatency",
                "forced-idr": "1",  # a forced keyframe is one an output can start at
            }
        stream.width, stream.height = w, h
        stream.codec_context.time_base = TIME_BASE
        stream.codec_context.gop_size = max(1, round(self.fps))
        stream.codec_context.flags |= av.codec.context.Flags.global_header
        try:
            self._null.start_encoding()
        except av.error.FFmpegError as e:
            raise OutputError(f"cannot start the encoder: {one_line(e)}") from None
        self._stream = stream
        self._in_format = "bgra" if self.transparent else "bgr24"
        self._thread = threading.Thread(target=self._run, name="segcam-encoder", daemon=True)
        self._thread.start()

    @property
    def outputs(self) -> tuple[Output, ...]:
        return self._outputs

    def add_output(self, output: Output) -> None:
        """Open ``output`` (caller's thread; one-line error) and feed it from the next
        keyframe, which the encoder forces on the next frame."""
        if self._stream is None or self._stopped:
            raise SegcamError("the encoder is not running")
        output.open(self._stream, transparent=self.transparent)
        with self._lock:
            self._outputs = (*self._outputs, output)
            self._want_key = True

    def remove_output(self, output: Output) -> None:
        """Stop feeding ``output`` and close (finalise) it; caller's thread."""
        with self._lock:
            self._outputs = tuple(o for o in self._outputs if o is not output)
        with self._writing:  # the encoder thread is not inside output.write
            pass
        output.close()

    def submit(self, frame: Frame) -> None:
        """Queue ``frame.output`` for encoding (copied; never blocks)."""
        if self.error is not None or self._stream is None or not self._outputs:
            return
        image = self._conform(frame.output)
        vf = av.VideoFrame.from_ndarray(image, format=self._in_format)
        # Timestamps on the session's clock, not the source's: a source switch starts
        # its pts from 0 again, a recording goes on.
        if self._t0 is None:
            self._t0 = frame.t_capture
        pts = round((frame.t_capture - self._t0) / TIME_BASE)
        pts = max(pts, self._last_pts + 1)
        self._last_pts = pts
        vf.pts = pts
        vf.time_base = TIME_BASE
        if self._want_key:
            self._want_key = False
            vf.pict_type = av.video.frame.PictureType.I
        if not self._queue.hand_over(vf, live=self._live, failed=lambda: self.error is not None):
            self.dropped += 1

    def _conform(self, image: np.ndarray | None) -> np.ndarray:
        """``image`` at the encoder's size and channel count (kept buffers)."""
        assert image is not None and self.size is not None
        w, h = self.size
        channels = 4 if self.transparent else 3
        if image.shape[2] != channels:
            code = cv2.COLOR_BGR2BGRA if channels == 4 else cv2.COLOR_BGRA2BGR
            shape = (*image.shape[:2], channels)
            if self._convert is None or self._convert.shape != shape:
                self._convert = np.empty(shape, np.uint8)
            image = cv2.cvtColor(image, code, dst=self._convert)
        if image.shape[:2] != (h, w):
            if self._fit is None or self._fit.shape != (h, w, channels):
                self._fit = np.empty((h, w, channels), np.uint8)
            ih, iw = image.shape[:2]
            scale = max(w / iw, h / ih)
            cw, ch = min(iw, round(w / scale)), min(ih, round(h / scale))
            x0, y0 = (iw - cw) // 2, (ih - ch) // 2
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            cv2.resize(
                image[y0 : y0 + ch, x0 : x0 + cw], (w, h), dst=self._fit, interpolation=interp
            )
            image = self._fit
        if self.mirror:
            if self._flip is None or self._flip.shape != image.shape:
                self._flip = np.empty_like(image)
            image = cv2.flip(image, 1, dst=self._flip)
        return image

    def stop(self) -> None:
        """Encode what is queued, flush, and close every output. Idempotent; any thread."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._queue.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        try:
            if self._stream is not None and self.error is None:
                self._send(self._stream.encode(None))
        except Exception as e:
            self.error = OutputError(f"the encoder failed while finishing: {one_line(e)}")
        with self._lock:
            outputs, self._outputs = self._outputs, ()
        for out in outputs:
            try:
                out.close()
            except Exception as e:
                log.debug("closing %s failed", out.name, exc_info=True)
                out.error = out.error or OutputError(f"finishing {out.name} failed: {one_line(e)}")
                if self.error is None:
                    self.error = out.error
        if self._null is not None:
            try:
                self._null.close()
            except Exception:
                log.debug("closing the encoder failed", exc_info=True)
            self._null = None

    # -- encoding thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is END:
                    break
                self._send(self._stream.encode(item))
                self.frames_encoded += 1
        except BaseException as e:  # surfaced through .error
            log.debug("encoder failed", exc_info=True)
            self.error = (
                e
                if isinstance(e, SegcamError)
                else OutputError(f"the encoder failed: {one_line(e)}")
            )
            self._queue.discard()

    def _send(self, packets: list[av.Packet]) -> None:
        with self._writing:
            outputs = self._outputs
            for packet in packets:
                for i, out in enumerate(outputs):
                    # Muxing takes the packet over, so every output but the last gets a
                    # copy (a few kB of compressed data).
                    p = packet if i == len(outputs) - 1 else _copy(packet)
                    try:
                        out.write(p)
                    except Exception as e:
                        self._failed(out, e)
                        outputs = self._outputs

    def _failed(self, out: Output, err: BaseException) -> None:
        log.debug("output %s failed", out.name, exc_info=err)
        verb = "streaming" if is_stream_url(out.target) else "recording"
        reason = getattr(err, "strerror", None) or one_line(err)
        out.error = (
            err
            if isinstance(err, SegcamError)
            else OutputError(f"{verb} to {out.name} failed: {reason}")
        )
        with self._lock:
            self._outputs = tuple(o for o in self._outputs if o is not out)
        try:
            out.close()
        except Exception:
            log.debug("closing the failed output %s failed", out.name, exc_info=True)
        if self.on_output_error is not None:
            self.on_output_error(out)


def _copy(packet: av.Packet) -> av.Packet:
    q = av.Packet(bytes(packet))
    q.pts, q.dts, q.time_base = packet.pts, packet.dts, packet.time_base
    q.is_keyframe = packet.is_keyframe
    return q
