"""Face enrolment and search by face photo through the page, with the real model pack."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.timeout(300), pytest.mark.models, pytest.mark.eval]
helpers = sys.modules["edgewatch_web_test_helpers"]  # loaded by conftest.py

ENROL = "faces/deepface/angelina_jolie/img1.jpg"
PROBE = "faces/deepface/angelina_jolie/img2.jpg"
OTHER = "faces/face_recognition_pr1285/steve_wozniak/steve_wozniak1.jpg"


@pytest.fixture(scope="module")
def face_stack(
    tmp_path_factory: pytest.TempPathFactory, models_dir: Path, eval_dir: Path
) -> Iterator[Any]:
    with helpers.open_stack(
        tmp_path_factory.mktemp("web-faces"), "sqlite", models_dir=models_dir
    ) as s:
        admin = s.client("admin")
        r = admin.post_multipart(
            "/watchlist/face",
            {"subject_id": "subj-face", "label": "", "largest": "1"},
            [("photos", "enrol.jpg", (eval_dir / ENROL).read_bytes())],
        )
        assert r.status == 303, r.text[-800:]
        yield s


def face_events(s: Any) -> set[str]:
    return {
        e.event_id for e in s.seeded.events if any(f.subject_id == "subj-face" for f in e.faces)
    }


def test_enrolment_added_a_template_of_the_store_model(face_stack: Any) -> None:
    subject = face_stack.local.repo.watchlist.get_subject("subj-face")
    assert subject is not None and len(subject.templates) == 1
    assert subject.label == "人脸布控 D"  # existing label kept


def test_search_by_photo_of_the_same_person_finds_their_events(
    face_stack: Any, eval_dir: Path
) -> None:
    c = face_stack.client("reviewer")
    r = c.post_multipart(
        "/search/face",
        {"min_similarity": ""},
        [("photo", "probe.jpg", (eval_dir / PROBE).read_bytes())],
    )
    assert r.status == 200, r.text[-800:]
    found = set(re.findall(r'<a href="/events/([^"/]+)">', r.text))
    assert found == face_events(face_stack)
    sims = [float(x) for x in re.findall(r'<td data-label="照片相似度">(0\.\d{3})</td>', r.text)]
    assert len(sims) == len(found) and all(s >= 0.48 for s in sims)  # store threshold
    audit = [
        e for e in face_stack.local.repo.audit.entries(0, 100_000) if e.action == "review.search"
    ]
    assert '"face_photo":true' in audit[-1].detail_json
    # thumbnails of these results are now allowed for this session
    assert c.get(f"/events/{sorted(found)[0]}/thumb").status == 200


def test_photo_of_another_person_finds_nothing(face_stack: Any, eval_dir: Path) -> None:
    c = face_stack.client("viewer")
    r = c.post_multipart(
        "/search/face", {}, [("photo", "other.jpg", (eval_dir / OTHER).read_bytes())]
    )
    assert r.status == 200
    assert not set(re.findall(r'<a href="/events/([^"/]+)">', r.text)) & face_events(face_stack)


def test_a_photo_without_a_face_or_no_photo_is_explained(face_stack: Any) -> None:
    c = face_stack.client("viewer")
    from tests.support.samples import sample_jpeg

    r = c.post_multipart("/search/face", {}, [("photo", "noise.jpg", sample_jpeg(1, 320, 240))])
    assert r.status == 400 and "no face" in r.text
    assert c.post_multipart("/search/face", {}, []).status == 400


def test_only_admins_enrol_faces(face_stack: Any, eval_dir: Path) -> None:
    c = face_stack.client("reviewer")
    r = c.post_multipart(
        "/watchlist/face", {"label": "x"}, [("photos", "a.jpg", (eval_dir / PROBE).read_bytes())]
    )
    assert r.status == 403


def test_api_face_search_and_enrolment(face_stack: Any, eval_dir: Path) -> None:
    import httpx

    s = face_stack
    with httpx.Client(base_url=f"{s.url}/api/v1", timeout=120) as api:
        reviewer = {"Authorization": f"Bearer {s.tokens['reviewer']}"}
        probe = (eval_dir / PROBE).read_bytes()
        r = api.post(
            "/events/face-search", files={"photo": ("p.jpg", probe, "image/jpeg")}, headers=reviewer
        )
        assert r.status_code == 200, r.text
        rows = r.json()["events"]
        assert {row["id"] for row in rows} == face_events(s)
        assert all(row["similarity"] is not None and row["similarity"] > 0.3 for row in rows)
        missing = api.post("/events/face-search", files={"other": ("x", b"1")}, headers=reviewer)
        assert missing.status_code == 400 and "photo" in missing.json()["detail"]
        admin = {"Authorization": f"Bearer {s.tokens['admin']}"}
        other = (eval_dir / OTHER).read_bytes()
        files = [("photos", ("a.jpg", other, "image/jpeg"))]
        refused = api.post("/watchlist/faces", data={"label": "x"}, files=files, headers=reviewer)
        assert refused.status_code == 403
        added = api.post(
            "/watchlist/faces", data={"label": "api face", "largest": "true"}, files=files,
            headers=admin,
        )  # fmt: skip
        assert added.status_code == 200, added.text
        body = added.json()
        assert body["templates_added"] == 1 and body["photos"][0]["used"]
        subject = s.local.repo.watchlist.get_subject(body["subject_id"])
        assert subject is not None and subject.label == "api face" and len(subject.templates) == 1
