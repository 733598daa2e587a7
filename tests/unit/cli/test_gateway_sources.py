from pathlib import Path

from edge.cli.gateway import _with_sources
from edge.gateway.config import CameraConfig, ClientTls, GatewayConfig


def _config(cameras: list[CameraConfig]) -> GatewayConfig:
    return GatewayConfig(
        gateway_id="gw-1",
        store="127.0.0.1:7443",
        tls=ClientTls(ca=Path("ca.pem"), cert=Path("gw.pem"), key=Path("gw.key")),
        signing_key=Path("gw.signing.key"),
        data_dir=Path("data"),
        cameras=cameras,
    )


def test_source_override_keeps_the_sites_privacy_settings() -> None:
    site = CameraConfig(
        id="gate",
        source="rtsp://cam/1",
        fps=2.0,
        roi=(0.1, 0.1, 0.9, 0.9),
        privacy_masks=[(0.0, 0.0, 0.2, 0.2)],
        recognisers=("plates",),
    )
    out = _with_sources(_config([site]), ["file:/a.mp4", "folder:/drop"])
    assert [(c.id, c.source) for c in out.cameras] == [
        ("cam-1", "file:/a.mp4"),
        ("cam-2", "folder:/drop"),
    ]
    for c in out.cameras:
        assert (c.fps, c.roi, c.privacy_masks, c.recognisers) == (
            2.0,
            (0.1, 0.1, 0.9, 0.9),
            [(0.0, 0.0, 0.2, 0.2)],
            ("plates",),
        )


def test_no_override_keeps_the_config() -> None:
    cfg = _config([CameraConfig(id="gate", source="usb:0")])
    assert _with_sources(cfg, []) is cfg
