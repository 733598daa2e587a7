"""Recognition from the main stream's pixels while a camera's sub-stream is analysed.

The sub-stream (e.g. 640x360) is what the detectors scan: cheap to decode and to look
at. But a face there is a third of its main-stream size (a 100 px face is ~33 px), too
small to embed, and a 150 px plate is ~50 px, near the reader's limit. So where the
sub-stream shows a face or a small plate, the camera's main-stream picture of the same
moment (``Frame.hires``, decoded on demand by ``edge.gateway.hires``) is fetched and:

- faces are re-detected in regions around the sub-stream boxes, then aligned, quality-
  scored and embedded there;
- plates are read from the main picture at the sub-stream's corners, scaled up.

Tracking and evidence stay in sub-stream coordinates (evidence is moved onto the main
picture by ``upscale_scene``). Nothing found here outlives the call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from edge.vision.faces import FaceAnalyzer
from edge.vision.plates import PlateRecognizer
from edge.vision.regions import Scale, covered, region_around
from edge.vision.types import FaceDetection, Image, Plate, PlateDetection

MainPicture = Callable[[], Image | None]

#: regions looked at per frame at most (a crowd on a sub-stream); the faces beyond
#: it, least confident first, are only redacted
MAX_FACE_REGIONS = 12
#: plates narrower than this on the analysed picture are read on the main picture
READ_ON_MAIN_BELOW_PX = 100.0


@dataclass(frozen=True, slots=True)
class MainView:
    """The main-stream picture of the analysed frame and how the two relate."""

    image: Image
    scale: Scale


def main_view(analysed: Image, main: MainPicture | None) -> MainView | None:
    """The main picture, if there is one and it is larger than the analysed one."""
    if main is None:
        return None
    picture = main()
    if picture is None or picture.shape[1] <= analysed.shape[1]:
        return None
    return MainView(picture, Scale.between(analysed, picture))


@dataclass(frozen=True, slots=True)
class FacesOnMain:
    #: faces to recognise, in main-picture coordinates (align and embed from these)
    on_main: list[FaceDetection]
    #: the same faces in analysed-picture coordinates (track and report these)
    faces: list[FaceDetection]
    #: faces only to redact, analysed-picture coordinates
    faint: list[FaceDetection]


def faces_on_main(
    analyzer: FaceAnalyzer,
    view: MainView,
    confident: Sequence[FaceDetection],
    faint: Sequence[FaceDetection],
) -> FacesOnMain:
    """Re-detect the analysed picture's faces on the main one. A sub-stream face the
    main picture does not confirm stays a face to redact (privacy fails closed)."""
    seen = sorted([*confident, *faint], key=lambda d: -d.score)
    h, w = view.image.shape[:2]
    regions = [region_around(view.scale.up(d.box), w, h) for d in seen[:MAX_FACE_REGIONS]]
    found, found_faint = analyzer.detect_regions(view.image, regions)
    faces = [view.scale.down_face(d) for d in found]
    redact = [view.scale.down_face(d) for d in found_faint]
    known = [d.box for d in faces + redact]
    redact += [d for d in seen if not covered(d.box, known)]
    return FacesOnMain(found, faces, redact)


def read_on_main(
    plates: PlateRecognizer, view: MainView, detection: PlateDetection
) -> Plate | None:
    """The plate read from the main picture at ``detection`` (analysed coordinates),
    reported at the analysed picture's box."""
    plate = plates.read_detection(view.image, view.scale.up_plate(detection))
    return None if plate is None else replace(plate, detection=detection)


def wants_main(detections: Sequence[PlateDetection]) -> bool:
    return any(d.box.width < READ_ON_MAIN_BELOW_PX for d in detections)
