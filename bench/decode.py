"""Decode cost per camera stream: OpenCV's capture against the PyAV ways of reading
that edge.gateway.av_stream uses, in one process on one clip.

    PYTHONPATH=. python bench/decode.py [--seconds 12] [--source FILE] [--fps 5]

Encodes (x264 veryfast: CABAC and deblocking, as cameras do) a 1080p / 25 fps /
4 Mbit/s H.264 clip (no B-frames, 1 s GOP, like a camera's main stream), the same with
2 B-frames, and a 640x360 / 25 fps sub-stream from the dev set's pedestrian video (or
testsrc2). Reads each from the file (decode only) and prints process CPU time (all
threads) per stream frame, cores per 25 fps stream, and the ratio against OpenCV read.
Then the clips over RTSP/TCP from the GStreamer test server through the gateway's own
readers (the old OpenCV StreamSource as baseline, AvStreamSource), CPU per received
frame of this process (the server's CPU is its own). Cases take turns for --repeat
rounds and the best of each is kept (neighbours on a shared VM inflate CPU time).
Last, ``--connect`` cameras started at once: seconds until each's first frame.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import av
import cv2

from edge.gateway.av_stream import AvStreamSource
from edge.gateway.sources import SourceSettings
from edge.gateway.stream_source import StreamSource
from tests.support.rtsp import RtspServer, encode_clip, missing_tools


def opencv(path: Path, retrieve: bool) -> int:
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    n = 0
    while cap.grab():
        if retrieve:
            cap.retrieve()
        n += 1
    cap.release()
    return n


def pyav(path: Path, mode: str, fps: float) -> int:
    """mode: all (decode + convert every frame), rate (decode all, convert at fps),
    keyframes (decode keyframes only, convert them), nonref (rate, and non-reference
    frames not decoded at all: AvStreamSource's skip_frame=NONREF)."""
    n = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        if mode == "keyframes":
            stream.codec_context.skip_frame = "NONKEY"
        elif mode == "nonref":
            stream.codec_context.skip_frame = "NONREF"
        every = max(1, round(float(stream.average_rate or 25) / fps))
        for packet in container.demux(stream):
            n += 1
            for i, frame in enumerate(packet.decode()):
                if mode not in ("rate", "nonref") or (n + i) % every == 0:
                    frame.to_ndarray(format="bgr24")
    return n


def over_rtsp(url: str, kind: str, fps: float, seconds: float) -> float:
    """ms of process CPU per frame received by the gateway's own reader over RTSP/TCP
    for ``seconds``: the old OpenCV StreamSource (every frame read and converted) or
    AvStreamSource (every frame decoded, converted at ``fps``)."""
    settings = SourceSettings()
    src = (
        StreamSource("bench", url, settings)
        if kind == "opencv"
        else AvStreamSource("bench", url, settings, fps=fps)
    )
    src.start()
    try:
        wait_until = time.monotonic() + 15
        while src.stats().received == 0 and time.monotonic() < wait_until:
            src.read(0.1)
        t0 = time.process_time()
        start = src.stats().received
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            src.read(0.1)
        received = src.stats().received - start
        cpu = time.process_time() - t0
    finally:
        src.stop()
    if received == 0:
        raise RuntimeError(f"{kind}: no frames over RTSP")
    return cpu * 1000 / received


def first_frames(urls: list[str], kind: str, fps: float) -> list[float]:
    """Seconds from start() to each camera's first frame, all started at once."""
    settings = SourceSettings()
    srcs = [
        StreamSource(f"c{i}", u, settings)
        if kind == "opencv"
        else AvStreamSource(f"c{i}", u, settings, fps=fps)
        for i, u in enumerate(urls)
    ]
    t0 = time.monotonic()
    for src in srcs:
        src.start()
    firsts: dict[int, float] = {}
    try:
        while len(firsts) < len(srcs) and time.monotonic() - t0 < 60:
            for i, src in enumerate(srcs):
                if i not in firsts and src.read(0.01) is not None:
                    firsts[i] = time.monotonic() - t0
    finally:
        for src in srcs:
            src.stop()
    return sorted(firsts.values())


def cpu_ms_per_frame(run: Callable[[], int]) -> float:
    t0 = time.process_time()
    frames = run()
    return (time.process_time() - t0) * 1000 / frames


def interleaved(cases: list[tuple[str, Callable[[], float]]], rounds: int) -> dict[str, float]:
    """Best of ``rounds`` per case, the cases taking turns: on a shared VM, CPU time
    includes steal and cache contention from neighbours that comes and goes, so the
    minimum over interleaved rounds is the comparable number."""
    best = {name: float("inf") for name, _ in cases}
    for _ in range(rounds):
        for name, run in cases:
            best[name] = min(best[name], run())
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--fps", type=float, default=5.0, help="analysis rate")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds, best kept")
    ap.add_argument("--rtsp-seconds", type=float, default=5.0, help="per RTSP case and round")
    ap.add_argument("--connect", type=int, default=8, help="cameras connecting at once")
    default = Path(os.environ.get("EDGE_EVAL_DIR", "../shared/eval"))
    ap.add_argument("--source", default=str(default / "video/pedestrians_arcade_1080p.mp4"))
    args = ap.parse_args()
    source = args.source if Path(args.source).exists() else "testsrc2"
    with tempfile.TemporaryDirectory() as tmp:
        main_clip = encode_clip(
            Path(tmp) / "main.ts",
            size=(1920, 1080),
            fps=25,
            seconds=args.seconds,
            bitrate="4M",
            source=source,
            preset="veryfast",
        )
        sub_clip = encode_clip(
            Path(tmp) / "sub.ts",
            size=(640, 360),
            fps=25,
            seconds=args.seconds,
            bitrate="512k",
            source=source,
            preset="veryfast",
        )
        b_clip = encode_clip(
            Path(tmp) / "bframes.ts",
            size=(1920, 1080),
            fps=25,
            seconds=args.seconds,
            bitrate="4M",
            source=source,
            preset="veryfast",
            bframes=2,
        )
        cases: list[tuple[str, Callable[[], int]]] = [
            ("opencv read (baseline)", lambda: opencv(main_clip, True)),
            ("opencv grab only", lambda: opencv(main_clip, False)),
            ("pyav decode+convert all", lambda: pyav(main_clip, "all", args.fps)),
            (
                f"pyav decode all, convert {args.fps:g} fps",
                lambda: pyav(main_clip, "rate", args.fps),
            ),
            ("pyav keyframes only", lambda: pyav(main_clip, "keyframes", args.fps)),
            (
                f"pyav 640x360 sub, convert {args.fps:g} fps",
                lambda: pyav(sub_clip, "rate", args.fps),
            ),
            ("B-frames clip: pyav decode all, 5 fps", lambda: pyav(b_clip, "rate", args.fps)),
            ("B-frames clip: skip non-ref, 5 fps", lambda: pyav(b_clip, "nonref", args.fps)),
        ]
        print(f"source: {source}; {args.seconds:g} s, 1080p25 4 Mbit/s H.264 (x264 veryfast)")
        print(f"cv2 {cv2.__version__}, av {av.__version__}, FFmpeg {av.ffmpeg_version_info}")
        timed = [(n, partial(cpu_ms_per_frame, r)) for n, r in cases]
        best = interleaved(timed, args.repeat)
        for name, _ in cases:
            _row(name, best[name], best[cases[0][0]])
        why = missing_tools()
        if why:
            print(f"RTSP cases skipped: {why}")
            return
        print("over RTSP/TCP from the GStreamer test server, the gateway's readers:")
        with RtspServer({"main": main_clip, "sub": sub_clip}) as server:
            secs = args.rtsp_seconds
            rtsp: list[tuple[str, Callable[[], float]]] = [
                (
                    "StreamSource (OpenCV) main (baseline)",
                    lambda: over_rtsp(server.url("main"), "opencv", args.fps, secs),
                ),
                (
                    f"AvStreamSource main, fps {args.fps:g}",
                    lambda: over_rtsp(server.url("main"), "pyav", args.fps, secs),
                ),
                (
                    f"AvStreamSource sub, fps {args.fps:g}",
                    lambda: over_rtsp(server.url("sub"), "pyav", args.fps, secs),
                ),
            ]
            best = interleaved(rtsp, args.repeat)
        for name, _ in rtsp:
            _row(name, best[name], best[rtsp[0][0]])
        n = args.connect
        print(f"{n} cameras started at once (--live mounts), seconds to each first frame:")
        with RtspServer({f"c{i}": main_clip for i in range(n)}, live=True) as server:
            urls = [server.url(f"c{i}") for i in range(n)]
            for kind, name in (("opencv", "StreamSource (OpenCV)"), ("pyav", "AvStreamSource")):
                times = first_frames(urls, kind, args.fps)
                print(f"{name:22s} {' '.join(f'{t:.1f}' for t in times)}")


def _row(name: str, ms: float, base: float) -> None:
    cores = ms * 25 / 1000
    print(f"{name:40s} {ms:6.2f} ms CPU/frame {cores:5.3f} cores/stream x{ms / base:.2f}")


if __name__ == "__main__":
    main()
