"""Recording the output to a file with PyAV.

Containers, chosen by the output's extension:

``.mp4`` / ``.m4v`` / ``.mov``
    H.264 in *fragmented* MP4 (``empty_moov`` + a fragment per keyframe, one
    keyframe per second). A normal MP4 is unplayable until its index is written
    at the very end; a fragmented one is playable up to the last complete
    fragment, so a process killed outright (SIGKILL, power loss) still leaves a
    file holding everything but the last second.
``.mkv``
    H.264 in Matroska, one cluster per second; Matroska needs no final index to
    play, so it survives a kill the same way.
``.webm``
    VP9 in WebM. With a transparent background (``--background none``) it is
    VP9 *with alpha* (yuva420p), which browsers, ffmpeg (``-c:v libvpx-vp9``)
    and PyAV (codec ``libvpx-vp9``) read back with the alpha.
a folder, or a pattern with ``%d`` ending in ``.png``
    A PNG sequence (BGRA when transparent); each file is written atomically.

Files are never written in place (see :mod:`segcam.outputs`): a video is written
under a temporary name in the output's folder (``clip.mp4.XXXXXXXX.segcam-partial``)
and renamed onto its real name as soon as it holds a frame, then keeps growing
there, so a killed recording is found under its real name and plays; one killed
before its first frame reached the disk leaves only the ``.segcam-partial`` file,
which holds no frames. An existing output is replaced only with ``overwrite``, and
a failed run never deletes a file segcam did not create.
``rtmp://`` / ``rtmps://`` URLs
    A live stream: H.264 + AAC in FLV, as streaming services and OBS take it.
``udp://`` / ``srt://`` URLs
    A live stream: H.264 + AAC in MPEG-TS (188-byte packets, seven per datagram).
    SRT needs an FFmpeg built with libsrt; PyAV's wheels have none, so that case is
    one clear error.

Streams are paced like a camera: the writer thread sends each frame when its
presentation time comes, measured from the first frame, so a video file goes out
in real time too (and a file job waits for the stream instead of racing ahead).
They use x264's zerolatency tuning, a keyframe every two seconds and a capped
bitrate. Connection problems are one-line errors at start. Every network wait is
bounded: FFmpeg's ``rw_timeout`` (:data:`NETWORK_TIMEOUT_S`) covers the connection,
the handshake and every write, so a server that accepts and never answers, or
stops reading, ends the run with an error instead of hanging. (The stream is
opened through FFmpeg's ``tee`` muxer, because PyAV opens an output's connection
without passing options; the tee passes ``rw_timeout`` to it.)

Audio of a video-file input is carried over: copied when the container accepts
the codec, otherwise re-encoded (AAC, or Opus for WebM), and cut at the last
video frame.

Threading: ``submit`` (worker thread) copies the output into a PyAV frame and
queues it; encoding and muxing run on the recorder's own thread. For live
streams a full queue drops the frame (counted); file jobs block instead.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import socket
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Sequence
from fractions import Fraction

import av
import cv2
import numpy as np

from segcam.channels import END, BoundedQueue
from segcam.errors import InputError, OutputError, SegcamError, one_line
from segcam.frame import Frame
from segcam.outputs import (
    check_not_an_input,
    check_overwrite,
    discard,
    partial_path,
    publish,
    sequence_files,
    which_input,
    write_file,
)
from segcam.sinks.base import StreamInfo

log = logging.getLogger(__name__)

# Shared with segcam.sinks.encoder: the pts clock and each sink's queue length.
TIME_BASE = Fraction(1, 90000)
QUEUE_FRAMES = 8

# Which audio codecs each container takes as they are.
_AUDIO_COPY_OK = {
    "mp4": {"aac", "mp3", "alac", "opus", "flac", "ac3"},
    "matroska": {"aac", "mp3", "opus", "vorbis", "flac", "ac3", "pcm_s16le", "alac"},
    "webm": {"opus", "vorbis"},
    "flv": {"aac", "mp3"},
    "mpegts": {"aac", "mp3", "ac3", "mp2"},
}
_AUDIO_FALLBACK = {
    "mp4": "aac",
    "matroska": "aac",
    "webm": "libopus",
    "flv": "aac",
    "mpegts": "aac",
}

# Network outputs: URL scheme -> container.
STREAM_FORMATS = {"rtmp": "flv", "rtmps": "flv", "udp": "mpegts", "srt": "mpegts"}
_DEFAULT_PORTS = {"rtmp": 1935, "rtmps": 443}
_CONNECT_TIMEOUT_S = 5.0
# How long any network read or write of a stream may wait (FFmpeg's rw_timeout): the
# bound on a silent server, and on how long Ctrl+C can take while FFmpeg waits on one
# (PyAV holds the GIL while it connects, so no Python code runs until FFmpeg returns).
NETWORK_TIMEOUT_S = 5.0
_STREAM_STOP_TIMEOUT_S = NETWORK_TIMEOUT_S + 2.0
_TS_PACKETS_PER_DATAGRAM = 1316  # 7 x 188-byte MPEG-TS packets: fits an Ethernet MTU


def describe_formats() -> str:
    return (
        ".mp4 (fragmented, H.264), .mkv (Matroska, H.264), .webm (VP9, keeps alpha), "
        "a folder of PNGs, or a stream URL (rtmp://, udp://, srt://)"
    )


def is_stream_url(path: str) -> bool:
    """True for an output that is a network stream (``scheme://...``), not a file."""
    return "://" in path


def display_name(path: str) -> str:
    """``path`` as it may be shown and logged: a stream URL loses its secrets.

    An RTMP URL's last path part is the stream key, which gives anyone who sees it
    the right to broadcast on the channel; passwords in URLs are hidden too.
    """
    if not is_stream_url(path):
        return os.path.abspath(path)
    parts = urllib.parse.urlsplit(path)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    route = parts.path
    if parts.scheme.lower() in ("rtmp", "rtmps") and route.count("/") >= 2:
        route = route.rsplit("/", 1)[0] + "/***"
    query = (
        "?***"
        if "passphrase" in parts.query.lower()
        else (f"?{parts.query}" if parts.query else "")
    )
    return f"{parts.scheme}://{netloc}{route}{query}"


def check_stream_url(url: str, *, transparent: bool = False) -> tuple[str, str, int | None]:
    """Validate a stream URL; return ``(scheme, host, port)``. One-line errors.

    The host name is resolved here, so a typo fails before the model loads.
    """
    shown = display_name(url)
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise OutputError(f"invalid stream URL {shown}: {e}") from None
    scheme = parts.scheme.lower()
    if scheme not in STREAM_FORMATS:
        raise OutputError(
            f"unsupported stream URL {shown}: use rtmp:// or rtmps:// (FLV), "
            "udp:// or srt:// (MPEG-TS)"
        )
    if transparent:
        raise OutputError(
            "a stream (H.264) cannot carry transparency: choose a background other than none"
        )
    host = parts.hostname or ""
    if scheme in ("udp", "srt") and port is None:
        raise OutputError(f"invalid stream URL {shown}: give a port, e.g. {scheme}://HOST:5000")
    if not host and not (scheme == "srt" and "mode=listener" in parts.query):
        raise OutputError(f"invalid stream URL {shown}: no host")
    if scheme in ("rtmp", "rtmps") and parts.path.strip("/").count("/") < 1:
        raise OutputError(
            f"invalid stream URL {shown}: an RTMP URL is rtmp://HOST[:PORT]/APP/STREAM_KEY"
        )
    if host:
        try:
            socket.getaddrinfo(host, port or _DEFAULT_PORTS.get(scheme, 0))
        except (socket.gaierror, UnicodeError) as e:
            raise OutputError(f"cannot stream to {shown}: unknown host {host} ({e})") from None
    return scheme, host, port


def _is_png_sequence(path: str) -> bool:
    return (
        path.endswith(("/", os.sep))
        or os.path.isdir(path)
        or ("%" in os.path.basename(path) and path.lower().endswith(".png"))
    )


def png_pattern(path: str) -> str:
    """The file-name pattern of a PNG-sequence output (a folder gets ``frame_%06d.png``)."""
    if "%" in os.path.basename(path):
        return path
    return os.path.join(path, "frame_%06d.png")


def check_output_path(
    path: str,
    *,
    transparent: bool = False,
    overwrite: bool = False,
    inputs: Sequence[str] = (),
) -> None:
    """Fail early, with one line, if ``path`` cannot or must not be recorded to.

    Checks the extension, that the folder exists and is writable, that the chosen
    container can carry a transparent output when one is asked for, that ``path``
    is none of ``inputs`` (files compared by identity, so a symlink, hardlink or
    other spelling counts; for a PNG sequence, any file its pattern could write),
    and that it does not exist yet unless ``overwrite``.
    """
    if not path:
        raise OutputError("no output path given")
    if is_stream_url(path):
        check_stream_url(path, transparent=transparent)
        return
    if _is_png_sequence(path):
        folder = path if "%" not in os.path.basename(path) else os.path.dirname(path) or "."
        parent = (
            os.path.dirname(os.path.abspath(folder.rstrip("/")))
            if not os.path.isdir(folder)
            else folder
        )
        _check_writable_dir(parent, path)
        discard(partial_path(os.path.join(parent, "probe"), shown=path))
        existing = sequence_files(png_pattern(path))
        for f in existing:
            hit = which_input(f, inputs)
            if hit is not None:
                raise OutputError(
                    f"the PNG sequence {path} would write over the input {hit}; segcam never "
                    "writes over its inputs: choose another --output"
                )
        if existing and not overwrite:
            raise OutputError(
                f"{path} already holds {len(existing)} file(s) this sequence would replace "
                f"(such as {os.path.basename(existing[0])}); use --overwrite to replace them"
            )
        return
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".mp4", ".m4v", ".mov", ".mkv", ".webm"):
        raise OutputError(
            f"unsupported output type {ext or '(none)'} for {path}: use {describe_formats()}"
        )
    if transparent and ext != ".webm":
        raise OutputError(
            f"{ext} (H.264) cannot keep transparency: use a .webm output (VP9 with alpha) "
            "or a folder for a PNG sequence"
        )
    if os.path.isdir(path):
        raise OutputError(f"output {path} is a folder")
    check_not_an_input(path, inputs)
    _check_writable_dir(os.path.dirname(os.path.abspath(path)), path)
    check_overwrite(path, overwrite)
    # Really create a file there (then remove it), because os.access says yes to root
    # everywhere and to pseudo-filesystems such as /proc where writes then fail.
    discard(partial_path(path))


def _check_writable_dir(folder: str, path: str) -> None:
    if not os.path.isdir(folder):
        raise OutputError(f"cannot write output {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write output {path}: folder {folder} is not writable")


class Recorder:
    """A :class:`~segcam.sinks.base.Sink` that encodes the output to a file (see module docs)."""

    def __init__(
        self,
        path: str,
        *,
        mirror: bool = False,
        crf: int = 20,
        preset: str = "veryfast",
        overwrite: bool = False,
        inputs: Sequence[str] = (),
    ) -> None:
        """``overwrite``: replace an existing output (else it is refused at start);
        ``inputs``: files the output must not be (see :func:`check_output_path`)."""
        self.path = path
        self.overwrite = overwrite
        self.inputs = tuple(inputs)
        self.mirror = mirror
        self._flip: np.ndarray | None = None
        self.crf = crf
        self.preset = preset
        self.error: BaseException | None = None
        self.dropped = 0
        self.frames_written = 0
        self._queue: BoundedQueue[object] = BoundedQueue(QUEUE_FRAMES)
        self._thread: threading.Thread | None = None
        self._writer: _PngWriter | _AvWriter | None = None
        self._live = False
        self._lock = threading.Lock()
        self._stopped = False

    def start(self, info: StreamInfo) -> None:
        check_output_path(
            self.path, transparent=info.transparent, overwrite=self.overwrite, inputs=self.inputs
        )
        self._live = info.live
        if _is_png_sequence(self.path) and not is_stream_url(self.path):
            self._writer = _PngWriter(self.path, info, overwrite=self.overwrite)
        else:
            self._writer = _AvWriter(
                self.path, info, crf=self.crf, preset=self.preset, overwrite=self.overwrite
            )
        self._thread = threading.Thread(target=self._run, name="segcam-recorder", daemon=True)
        self._thread.start()

    def submit(self, frame: Frame) -> None:
        if self.error is not None or self._writer is None:
            return
        image = frame.output
        assert image is not None
        if self.mirror:
            if self._flip is None or self._flip.shape != image.shape:
                self._flip = np.empty_like(image)
            image = cv2.flip(image, 1, dst=self._flip)
        item = self._writer.prepare(image, frame.pts)
        if not self._queue.hand_over(item, live=self._live, failed=lambda: self.error is not None):
            self.dropped += 1

    def _run(self) -> None:
        assert self._writer is not None
        try:
            while True:
                item = self._queue.get()
                if item is END:
                    break
                self._writer.write(item)
                self.frames_written += 1
        except BaseException as e:  # surfaced through .error; the pipeline reports it
            log.debug("recorder failed", exc_info=True)
            verb = "streaming" if is_stream_url(self.path) else "recording"
            # FFmpeg's message names the URL it opened, stream key and all: keep only
            # the reason.
            reason = getattr(e, "strerror", None) or one_line(e)
            self.error = (
                e
                if isinstance(e, SegcamError)
                else OutputError(f"{verb} to {display_name(self.path)} failed: {reason}")
            )
            self._queue.discard()

    def frames_saved(self) -> int | None:
        """How many frames the output really holds (after :meth:`stop`); None for a stream.

        After an error this is counted in the file itself, not from what reached the
        encoder: a full disk can lose frames that were already encoded.
        """
        if is_stream_url(self.path) or self._writer is None:
            return None
        if self.error is None:
            return self.frames_written
        return self._writer.frames_on_disk()

    def stop(self) -> None:
        """Flush the encoder and finalise the file. Idempotent; safe after a failed start."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._queue.close()
        if self._thread is not None:
            # A stream's peer may stop reading and leave the writer blocked in a send
            # that FFmpeg gives no timeout for; give up on it rather than hang.
            self._thread.join(_STREAM_STOP_TIMEOUT_S if is_stream_url(self.path) else None)
            if self._thread.is_alive():
                if self.error is None:
                    self.error = OutputError(
                        f"the stream to {display_name(self.path)} stalled (the receiver stopped "
                        "reading); gave up"
                    )
                return
        if self._writer is not None:
            try:
                self._writer.close(self.frames_written)
            except Exception as e:
                if self.error is None:
                    self.error = OutputError(
                        f"finishing {display_name(self.path)} failed: {one_line(e)}"
                    )


class _PngWriter:
    """PNG sequence; atomic per file (written to a temporary name, then renamed).

    The temporary name ends in ``.segcam-partial``, never ``.png``, so a glob for
    the sequence never picks up a half-written frame.
    """

    def __init__(self, path: str, info: StreamInfo, *, overwrite: bool = False) -> None:
        self.pattern = png_pattern(path)
        folder = os.path.dirname(self.pattern) or "."
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot create output folder {folder}: {e.strerror}") from None
        self.overwrite = overwrite
        self.index = 0

    def prepare(self, image: np.ndarray, pts: float) -> np.ndarray:
        return image.copy()

    def write(self, image: np.ndarray) -> None:
        target = self.pattern % self.index
        ok, data = cv2.imencode(".png", image)
        if not ok:
            raise OutputError(f"cannot encode {target}")
        write_file(target, data.tobytes(), overwrite=self.overwrite)
        self.index += 1

    def frames_on_disk(self) -> int:
        return self.index

    def close(self, frames_written: int) -> None:
        pass


class _AvWriter:
    """H.264 / VP9 through PyAV, with audio carried over from the input."""

    def __init__(
        self, path: str, info: StreamInfo, *, crf: int, preset: str, overwrite: bool = False
    ) -> None:
        self.path = path
        self.overwrite = overwrite
        self.stream_url = is_stream_url(path)
        # A file is written under a temporary name until it holds a frame (module docs).
        self.tmp: str | None = None
        self._header_size = 0
        if self.stream_url:
            scheme = urllib.parse.urlsplit(path).scheme.lower()
            self.format = STREAM_FORMATS[scheme]
        else:
            ext = os.path.splitext(path)[1].lower()
            self.format = {".mkv": "matroska", ".webm": "webm"}.get(ext, "mp4")
        w, h = info.size
        # 4:2:0 chroma needs even dimensions; drop the odd last row/column.
        self.width, self.height = w - w % 2, h - h % 2
        if (self.width, self.height) != (w, h):
            log.info("recording %dx%d (the encoder needs even sizes)", self.width, self.height)
        self.transparent = info.transparent
        fps = info.fps if info.fps and info.fps > 0 else 30.0
        rate = Fraction(fps).limit_denominator(1001)
        # Streams: a keyframe every 2 s, as streaming services ask; files: every second.
        gop = max(1, round(fps * (2 if self.stream_url else 1)))
        container_options = {"flush_packets": "1"}
        if self.format == "mp4":
            container_options["movflags"] = "frag_keyframe+empty_moov+default_base_moof"
        elif self.format in ("matroska", "webm"):
            container_options["cluster_time_limit"] = "1000"
        if self.stream_url:
            opts = {k: v for k, v in container_options.items() if k != "flush_packets"}
            _, target = stream_target(path, opts)
            av_format, container_options = "tee", {"flush_packets": "1"}
        else:
            self.tmp = target = partial_path(path)
            av_format = self.format
        try:
            self.container = av.open(
                target, mode="w", format=av_format, container_options=container_options
            )
        except (av.error.FFmpegError, OSError) as e:
            discard(self.tmp)
            raise OutputError(
                f"cannot create {display_name(path)}: {getattr(e, 'strerror', None) or e}"
            ) from None
        try:
            if self.format == "webm":
                stream = self.container.add_stream("libvpx-vp9", rate=rate)
                stream.pix_fmt = "yuva420p" if self.transparent else "yuv420p"
                stream.options = {
                    "crf": "32",
                    "b": "0",
                    "deadline": "realtime" if info.live else "good",
                    "cpu-used": "8" if info.live else "5",
                    "row-mt": "1",
                }
            else:
                stream = self.container.add_stream("libx264", rate=rate)
                stream.pix_fmt = "yuv420p"
                opts = {"preset": preset, "crf": str(crf)}
                if info.live or self.stream_url:
                    # No lookahead or B-frames: frames reach the file at once, so a
                    # killed live recording loses at most the current fragment.
                    opts["tune"] = "zerolatency"
                if self.stream_url:
                    # Cap the bitrate (about 0.1 bit per pixel) so a scene change
                    # cannot burst past what the link carries.
                    kbps = max(500, round(self.width * self.height * fps * 0.1 / 1000))
                    opts.update({"maxrate": f"{kbps}k", "bufsize": f"{kbps}k"})
                stream.options = opts
            stream.width, stream.height = self.width, self.height
            stream.codec_context.time_base = TIME_BASE
            stream.codec_context.gop_size = gop
            self.stream = stream
            self.audio = _AudioCarry.open(info.media_path, self.container, self.format)
            # Write the header now: a stream connects here, before start returns, so a
            # refused connection is an error at start rather than after the first frame;
            # a file's header size tells when the first frame has reached the disk.
            if self.stream_url:
                connect_stream(self.container)
            else:
                self.container.start_encoding()
            if self.tmp is not None:
                self._header_size = os.path.getsize(self.tmp)
        except av.error.FFmpegError as e:
            self._abandon()
            if self.stream_url:
                raise OutputError(stream_error(path, e)) from None
            raise OutputError(
                f"cannot create {display_name(path)}: {getattr(e, 'strerror', None) or e}"
            ) from None
        except BaseException:
            self._abandon()
            raise
        self._in_format = "bgra" if self.transparent else "bgr24"
        self._last_pts: int | None = None
        self._end_time = 0.0
        self._frame_step = 1.0 / fps
        # Live pacing (streams): wall-clock time of the first frame, and its media time.
        self._clock: tuple[float, float] | None = None

    def prepare(self, image: np.ndarray, pts_s: float) -> av.VideoFrame:
        """Copy the output into a PyAV frame (runs on the worker thread)."""
        if image.shape[1] != self.width or image.shape[0] != self.height:
            image = np.ascontiguousarray(image[: self.height, : self.width])
        vf = av.VideoFrame.from_ndarray(image, format=self._in_format)
        pts = round(pts_s / TIME_BASE)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        self._last_pts = pts
        vf.pts = pts
        vf.time_base = TIME_BASE
        return vf

    def write(self, vf: av.VideoFrame) -> None:
        t = float(vf.pts * TIME_BASE)
        if self.stream_url:
            self._pace(t)
        self._end_time = t + self._frame_step
        if self.audio is not None:
            self.audio.mux_until(t)
        for packet in self.stream.encode(vf):
            self.container.mux(packet)
        if self.tmp is not None and os.path.getsize(self.tmp) > self._header_size:
            # A fragment (cluster) has been written whole: the file now holds frames,
            # so it takes its real name, and keeps growing there (same open file).
            publish(self.tmp, self.path, overwrite=self.overwrite)
            self.tmp = None

    def _abandon(self) -> None:
        """Close after a failed start, and remove the temporary file we created."""
        with contextlib.suppress(Exception):
            if getattr(self, "audio", None) is not None:
                self.audio.close()
        with contextlib.suppress(Exception):
            self.container.close()
        discard(self.tmp)
        self.tmp = None

    def close(self, frames_written: int) -> None:
        try:
            if frames_written:
                for packet in self.stream.encode(None):
                    self.container.mux(packet)
                if self.audio is not None:
                    self.audio.finish(self._end_time)
        finally:
            try:
                if self.audio is not None:
                    self.audio.close()
                self.container.close()
            finally:
                if self.tmp is not None:
                    # A short recording reaches the disk only now. Publish it if it
                    # holds a frame; never leave an empty file that looks like one.
                    if count_video_frames(self.tmp):
                        publish(self.tmp, self.path, overwrite=self.overwrite)
                    else:
                        discard(self.tmp)
                    self.tmp = None

    def frames_on_disk(self) -> int:
        """Video frames in the finished file (0 if it never got its real name)."""
        if self.stream_url or self.tmp is not None or not os.path.exists(self.path):
            return 0
        return count_video_frames(self.path)

    def _pace(self, t: float) -> None:
        """Wait until media time ``t`` is due on the wall clock (writer thread).

        A frame that is already late goes at once; when the stream falls more than
        half a second behind (a slow machine, a blocked link) the clock is re-anchored
        rather than sending a burst to catch up.
        """
        now = time.monotonic()
        if self._clock is None:
            self._clock = (now, t)
            return
        wall0, media0 = self._clock
        delay = wall0 + (t - media0) - now
        if delay > 0:
            time.sleep(delay)
        elif delay < -0.5:
            self._clock = (now, t)


def connect_stream(container: av.container.OutputContainer) -> None:
    """``container.start_encoding()`` for a stream, on a helper thread.

    PyAV holds the GIL while FFmpeg connects, for up to :data:`NETWORK_TIMEOUT_S`.
    In the main thread, a Ctrl+C would interrupt FFmpeg's wait and restart its
    timeout at every press; on a helper thread the signal only marks itself for
    the main thread, which handles it as soon as FFmpeg gives up or connects.
    """
    failure: list[BaseException] = []

    def run() -> None:
        try:
            container.start_encoding()
        except BaseException as e:  # re-raised in the caller's thread
            failure.append(e)

    t = threading.Thread(target=run, name="segcam-connect", daemon=True)
    t.start()
    t.join()
    if failure:
        raise failure[0]


def count_video_frames(path: str) -> int:
    """Complete video packets (one per frame) that can be read back from ``path``.

    Demuxing only, without decoding, so it is quick even for a long recording; a
    packet cut short by a full disk or a kill is not counted.
    """
    n = 0
    try:
        with av.open(path) as c:
            if not c.streams.video:
                return 0
            for packet in c.demux(video=0):
                if packet.size and not packet.is_corrupt:
                    n += 1
    except (av.error.FFmpegError, OSError, EOFError, ValueError):
        pass
    return n


def stream_target(url: str, options: dict[str, str] | None = None) -> tuple[str, str]:
    """``(inner muxer, target)`` to open a stream URL with ``av.open(target, format="tee")``.

    Through the tee muxer is the only way to hand FFmpeg's connection its
    ``rw_timeout`` (:data:`NETWORK_TIMEOUT_S`); ``options`` go to the real (inner)
    muxer, and a live FLV gets ``flvflags=no_duration_filesize`` (it cannot seek back
    to fill in the duration at the end).
    """
    fmt = STREAM_FORMATS[urllib.parse.urlsplit(url).scheme.lower()]
    opts = dict(options or {})
    opts["rw_timeout"] = str(round(NETWORK_TIMEOUT_S * 1_000_000))
    if fmt == "flv":
        opts["flvflags"] = "no_duration_filesize"
    return fmt, _tee_target(_prepare_stream(url), fmt, opts)


def _tee_target(url: str, fmt: str, options: dict[str, str]) -> str:
    """``url`` as one output of FFmpeg's tee muxer, with ``fmt`` and ``options``.

    The tee reads its list with ``av_get_token``: a backslash escapes ``\\``, ``'``
    and ``|`` in the URL.
    """
    escaped = "".join("\\" + ch if ch in "\\'|" else ch for ch in url)
    opts = ":".join([f"f={fmt}", "onfail=abort", *(f"{k}={v}" for k, v in options.items())])
    return f"[{opts}]{escaped}"


def _prepare_stream(url: str) -> str:
    """Check that the receiver can be reached and complete the URL for FFmpeg.

    FFmpeg's ``rw_timeout`` bounds reads and writes, not the TCP connect itself (and
    PyAV holds the GIL meanwhile, so no thread of ours can give up on it), so for RTMP
    to another machine a plain TCP connect with a 5 s limit comes first: an unreachable
    host fails in seconds, with one line, instead of after the system's TCP timeout of minutes. A
    loopback connect is refused or accepted at once, so it is not probed (the probe
    would also take the one connection a single-client receiver accepts). UDP gets
    MPEG-TS-sized datagrams unless the URL sets ``pkt_size``.
    """
    scheme, host, port = check_stream_url(url)
    shown = display_name(url)
    if scheme in ("rtmp", "rtmps") and not _is_loopback(host):
        port = port or _DEFAULT_PORTS[scheme]
        try:
            with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S):
                pass
        except OSError as e:
            reason = "timed out" if isinstance(e, TimeoutError) else (e.strerror or str(e))
            raise OutputError(f"cannot connect to {shown}: {reason}") from None
    if scheme == "udp" and "pkt_size=" not in url:
        url += ("&" if "?" in url else "?") + f"pkt_size={_TS_PACKETS_PER_DATAGRAM}"
    return url


def _is_loopback(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def stream_error(url: str, err: av.error.FFmpegError) -> str:
    shown = display_name(url)
    if isinstance(err, av.error.ProtocolNotFoundError):
        scheme = urllib.parse.urlsplit(url).scheme
        return (
            f"cannot stream to {shown}: the installed PyAV's FFmpeg has no {scheme}:// support"
            + (" (it needs libsrt); use udp:// or rtmp:// instead" if scheme == "srt" else "")
        )
    reason = getattr(err, "strerror", None) or one_line(err)
    return f"cannot stream to {shown}: {reason}"


class _AudioCarry:
    """Carries the audio of the input file into the output, interleaved with the video."""

    def __init__(self, source: av.container.InputContainer, in_stream, out_stream, transcode: bool):
        self.source = source
        self.in_stream = in_stream
        self.out_stream = out_stream
        self.transcode = transcode
        self._packets = source.demux(in_stream)
        self._pending = None
        self._done = False

    @classmethod
    def open(cls, media_path: str | None, container, fmt: str) -> _AudioCarry | None:
        if not media_path:
            return None
        try:
            source = av.open(media_path)
        except (av.error.FFmpegError, OSError):
            return None
        if not source.streams.audio:
            source.close()
            return None
        in_stream = source.streams.audio[0]
        codec = in_stream.codec_context.name
        if codec in _AUDIO_COPY_OK[fmt]:
            out_stream = container.add_stream_from_template(in_stream)
            transcode = False
        else:
            rate = in_stream.codec_context.sample_rate or 48000
            if fmt == "webm":
                rate = 48000  # Opus runs at 48 kHz
            out_stream = container.add_stream(_AUDIO_FALLBACK[fmt], rate=rate)
            try:
                out_stream.layout = in_stream.codec_context.layout.name
            except Exception:
                out_stream.layout = "stereo"
            transcode = True
        log.info("carrying audio over (%s%s)", codec, ", re-encoded" if transcode else "")
        return cls(source, in_stream, out_stream, transcode)

    def _next_packet(self):
        if self._pending is not None:
            p, self._pending = self._pending, None
            return p
        if self._done:
            return None
        for p in self._packets:
            if p.dts is None and p.size == 0:
                continue
            return p
        self._done = True
        return None

    def mux_until(self, t: float) -> None:
        """Mux input audio whose timestamp is before ``t`` seconds."""
        container = self.out_stream.container
        while True:
            p = self._next_packet()
            if p is None:
                return
            pt = float(p.pts * p.time_base) if p.pts is not None else 0.0
            if pt >= t:
                self._pending = p
                return
            if self.transcode:
                try:
                    for af in p.decode():
                        af.pts = None  # let the encoder count samples
                        for q in self.out_stream.encode(af):
                            container.mux(q)
                except av.error.FFmpegError as e:
                    raise InputError(f"cannot decode the input's audio: {one_line(e)}") from None
            else:
                p.stream = self.out_stream
                container.mux(p)

    def finish(self, end: float) -> None:
        self.mux_until(end)
        if self.transcode:
            for q in self.out_stream.encode(None):
                self.out_stream.container.mux(q)

    def close(self) -> None:
        self.source.close()


def default_output_path(suffix: str = ".mp4") -> str:
    """``segcam-YYYYmmdd-HHMMSS.mp4`` in the current folder, or the temp folder if not writable."""
    import time

    name = time.strftime("segcam-%Y%m%d-%H%M%S") + suffix
    folder = os.getcwd() if os.access(os.getcwd(), os.W_OK) else tempfile.gettempdir()
    return os.path.join(folder, name)
