"""A real RTSP server for tests and benchmarks: GStreamer's RTSP server, run by the
SYSTEM python (``/usr/bin/python3``, which has ``gi`` + GstRtspServer; the project's
venv does not need it). Start it through ``tests.support.rtsp.RtspServer``.

    /usr/bin/python3 tests/support/rtsp_server.py --port 8554 \
        --mount cam1=/tmp/a.ts --mount cam2=/tmp/b.mp4 [--auth user:pw] \
        [--auth-method digest|basic] [--protocols tcp,udp] [--live]

Each mount serves one H.264 or H.265 file (MPEG-TS or MP4) without re-encoding, looped
forever. The file's access units are read into memory once at start, then a pusher
thread feeds them to an ``appsrc`` at their own pace, so a client sees a camera: a
live stream at the clip's frame rate that never ends.

* default: every client gets its own playback from the clip's first frame.
* ``--live``: all clients of a mount share ONE playback whose frame ``k`` (loop ``n``)
  goes out at ``playing_at + n * loop_s + t_k``; a client joining late starts at the
  next keyframe. A test or bench can therefore tell when each subject passes.

Once listening it prints one JSON line to stdout and flushes:
``{"ready": true, "port": P, "playing_at": UNIX_TIME, "mounts": {"cam1": {"loop_s":
.., "frames": .., "codec": "h264"}}}``. Decode order is used as presentation order, so
clips must not use B-frames (``tests.support.rtsp.encode_clip`` encodes without).
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


@dataclass(frozen=True)
class Unit:
    data: bytes
    t: float  # seconds from the clip's first access unit
    key: bool


@dataclass(frozen=True)
class Clip:
    codec: str  # h264 / h265
    units: list[Unit]
    loop_s: float


def probe_codec(path: str) -> str:
    out = (
        subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=codec_name",
                "-of",
                "csv=p=0",
                path,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()
    )
    codec = out[0] if out else ""
    if codec not in ("h264", "hevc"):
        raise SystemExit(f"{path}: video codec {codec!r} not supported (allowed: h264, hevc)")
    return "h265" if codec == "hevc" else "h264"


def load_clip(path: str) -> Clip:
    """Every access unit of the file's first video stream, as Annex B byte-stream with
    parameter sets before each keyframe (so a client may join at any keyframe)."""
    codec = probe_codec(path)
    demux = "qtdemux" if path.lower().endswith((".mp4", ".mov", ".m4v")) else "tsdemux"
    pipe = Gst.parse_launch(
        f'filesrc location="{path}" ! {demux} ! {codec}parse config-interval=-1 ! '
        f"video/x-{codec},stream-format=byte-stream,alignment=au ! "
        "appsink name=sink sync=false emit-signals=false"
    )
    sink = pipe.get_by_name("sink")
    pipe.set_state(Gst.State.PLAYING)
    units: list[Unit] = []
    first: int | None = None
    while True:
        sample = sink.emit("try-pull-sample", 10 * Gst.SECOND)
        if sample is None:
            break
        buf = sample.get_buffer()
        ts = buf.dts if buf.dts != Gst.CLOCK_TIME_NONE else buf.pts
        if first is None:
            first = ts
        ok, info = buf.map(Gst.MapFlags.READ)
        if not ok:
            raise SystemExit(f"{path}: cannot map a buffer")
        units.append(
            Unit(
                bytes(info.data),
                (ts - first) / Gst.SECOND,
                not buf.has_flags(Gst.BufferFlags.DELTA_UNIT),
            )
        )
        buf.unmap(info)
    pipe.set_state(Gst.State.NULL)
    if not units or not units[0].key:
        raise SystemExit(f"{path}: no video access units, or the first is not a keyframe")
    step = units[-1].t / (len(units) - 1) if len(units) > 1 else 0.04
    return Clip(codec, units, units[-1].t + step)


class Pusher:
    """Feeds one media's appsrc at the clip's pace until the media goes away."""

    def __init__(self, clip: Clip, appsrc: Gst.Element, origin: float) -> None:
        self.clip, self.appsrc, self.origin = clip, appsrc, origin
        self.stop = threading.Event()

    def run(self) -> None:
        units, loop_s = self.clip.units, self.clip.loop_s
        now = time.time()
        n, pos = divmod(max(0.0, now - self.origin), loop_s)
        i = next((k for k, u in enumerate(units) if u.key and u.t >= pos), None)
        if i is None:  # no keyframe left in this loop: the next loop's first frame
            n, i = n + 1, 0
        while not self.stop.is_set():
            due = self.origin + n * loop_s + units[i].t
            if self.stop.wait(max(0.0, due - time.time())):
                return
            buf = Gst.Buffer.new_wrapped(units[i].data)
            if self.appsrc.emit("push-buffer", buf) != Gst.FlowReturn.OK:
                return
            i += 1
            if i == len(units):
                n, i = n + 1, 0


class Factory(GstRtspServer.RTSPMediaFactory):
    def __init__(self, clip: Clip, live_origin: float | None) -> None:
        super().__init__()
        self.clip, self.live_origin = clip, live_origin
        c = clip.codec
        self.set_launch(
            f"( appsrc name=src is-live=true do-timestamp=true format=time "
            f'caps="video/x-{c},stream-format=byte-stream,alignment=au" ! '
            f"{c}parse config-interval=-1 ! rtp{c}pay name=pay0 pt=96 config-interval=-1 )"
        )
        self.set_shared(live_origin is not None)
        self.connect("media-configure", self._configure)

    def _configure(self, _factory: object, media: GstRtspServer.RTSPMedia) -> None:
        appsrc = media.get_element().get_by_name("src")
        origin = self.live_origin if self.live_origin is not None else time.time()
        pusher = Pusher(self.clip, appsrc, origin)
        media.connect("unprepared", lambda *_: pusher.stop.set())
        threading.Thread(target=pusher.run, daemon=True).start()


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--mount", action="append", required=True, metavar="NAME=FILE")
    p.add_argument("--auth", metavar="USER:PASSWORD")
    p.add_argument("--auth-method", choices=("digest", "basic"), default="digest")
    p.add_argument("--protocols", default="tcp,udp", help="tcp, udp or tcp,udp")
    p.add_argument("--live", action="store_true", help="one shared playback per mount")
    return p.parse_args(argv)


def setup_auth(server: GstRtspServer.RTSPServer, userpass: str, method: str) -> Gst.Structure:
    user, _, password = userpass.partition(":")
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", user)
    if method == "digest":
        auth.add_digest(user, password, token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    else:
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
    server.set_auth(auth)
    return Gst.Structure.new_from_string(
        f"{user},media.factory.access=(boolean)true,media.factory.construct=(boolean)true"
    )


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    Gst.init(None)
    protocols = GstRtsp.RTSPLowerTrans(0)
    for name in args.protocols.split(","):
        if name not in ("tcp", "udp"):
            raise SystemExit(f"--protocols {args.protocols!r}: allowed tcp, udp or tcp,udp")
        protocols |= GstRtsp.RTSPLowerTrans.TCP if name == "tcp" else GstRtsp.RTSPLowerTrans.UDP
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    # one thread per client: with GStreamer's default of 1, clients are served one after
    # another and each DESCRIBE of a live mount waits for its first keyframe, so N
    # cameras would connect ~1 s apart because of the test server, not the gateway
    server.get_thread_pool().set_max_threads(-1)
    role = setup_auth(server, args.auth, args.auth_method) if args.auth else None
    playing_at = time.time()
    mounts = server.get_mount_points()
    info = {}
    factories: list[Factory] = []
    for spec in args.mount:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--mount {spec!r}: expected NAME=FILE")
        clip = load_clip(path)
        factory = Factory(clip, playing_at if args.live else None)
        factory.set_protocols(protocols)
        if role is not None:
            perms = GstRtspServer.RTSPPermissions()
            perms.add_role_from_structure(role)
            factory.set_permissions(perms)
        mounts.add_factory(f"/{name}", factory)
        factories.append(factory)
        info[name] = {
            "loop_s": round(clip.loop_s, 6),
            "frames": len(clip.units),
            "codec": clip.codec,
        }
    if server.attach(None) == 0:
        raise SystemExit(f"cannot listen on {args.host}:{args.port}")
    if args.live:  # the schedule starts when the server can actually serve it
        playing_at = time.time()
        for f in factories:
            f.live_origin = playing_at
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    GLib.idle_add(
        lambda: (
            print(
                json.dumps(
                    {"ready": True, "port": args.port, "playing_at": playing_at, "mounts": info}
                ),
                flush=True,
            )
            and False
        )
    )
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
