"""Attachments as evidence (SPEC §9) through the API, on the real worker, Temporal and database: kept under their
sha256 and recorded in the timeline, served safely, withdrawn but never deleted; bad files refused with a sentence
and nothing left behind (no row, no event, no blob)."""

from __future__ import annotations

import hashlib
import io

from PIL import Image

from desk.models import Attachment, TimelineEvent
from tests.helpers import png, rows

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def blobs(desk) -> set[str]:
    root = desk.settings.data_dir / "blobs"
    return {p.name for p in root.rglob("*") if p.is_file() and p.parent.name != "incoming"}


def events(desk, kind: str) -> list[TimelineEvent]:
    return rows(desk.database_url, TimelineEvent, kind=kind)


async def test_files_are_kept_with_their_event_served_safely_and_only_withdrawn(desk):
    iid = (await desk.open()).json()["id"]
    image = png()
    r = await desk.http.post(f"/api/incidents/{iid}/attachments", headers=desk.auth("duty"), files=[
        ("files", ("帖子截图.png", image, "text/html")),  # what the browser says is not believed
        ("files", ("通报.pdf", PDF, "application/pdf"))])
    assert r.status_code == 201, r.text
    shot, pdf = r.json()
    assert (shot["sha256"], shot["size"], shot["content_type"]) == (hashlib.sha256(image).hexdigest(), len(image),
                                                                     "image/png")
    assert (pdf["name"], pdf["content_type"], pdf["thumbnail_url"]) == ("通报.pdf", "application/pdf", None)
    added = events(desk, "attachment_added")
    assert [(e.actor, e.payload["sha256"], e.payload["size"]) for e in added] == [
        ("duty", shot["sha256"], len(image)), ("duty", pdf["sha256"], len(PDF))]
    assert {shot["sha256"], pdf["sha256"]} <= blobs(desk)

    got = await desk.http.get(shot["url"], headers=desk.auth("bazhou"))  # the party's responder sees it
    assert got.content == image and got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff" and got.headers["content-disposition"].startswith("inline")
    got = await desk.http.get(pdf["url"], headers=desk.auth("bazhou"))
    assert got.content == PDF and got.headers["content-disposition"].startswith("attachment;")
    thumb = await desk.http.get(shot["thumbnail_url"], headers=desk.auth("duty"))
    assert thumb.headers["content-type"] == "image/jpeg" and max(Image.open(io.BytesIO(thumb.content)).size) <= 320
    hidden = await desk.http.get(shot["url"], headers=desk.auth("enyang"))  # another party: as if nothing existed
    assert hidden.status_code == 404 and hidden.json()["detail"] == f"没有编号为 {iid} 的舆情事件。"

    withdraw = f"{pdf['url']}/withdraw"
    r = await desk.http.post(withdraw, json={"reason": "不是我的"}, headers=desk.auth("bazhou"))
    assert r.status_code == 403 and "上传者本人或督办人员" in r.json()["detail"]
    r = await desk.http.post(withdraw, json={"reason": " "}, headers=desk.auth("duty"))
    assert r.status_code == 422
    r = await desk.http.post(withdraw, json={"reason": "传错了文件"}, headers=desk.auth("duty"))
    assert r.status_code == 200 and r.json()["withdrawn_reason"] == "传错了文件"
    r = await desk.http.post(withdraw, json={"reason": "再撤一次"}, headers=desk.auth("super"))
    assert r.status_code == 409 and "已撤回" in r.json()["detail"]
    listed = (await desk.http.get(f"/api/incidents/{iid}/attachments", headers=desk.auth("super"))).json()
    assert [(a["name"], a["withdrawn_by"]) for a in listed] == [("帖子截图.png", None), ("通报.pdf", "duty")]
    assert (await desk.http.get(pdf["url"], headers=desk.auth("super"))).content == PDF  # still there
    assert [e.payload["reason"] for e in events(desk, "attachment_withdrawn")] == ["传错了文件"]


async def test_bad_files_are_refused_with_a_sentence_and_leave_nothing_behind(desk):
    iid = (await desk.open()).json()["id"]
    url, auth = f"/api/incidents/{iid}/attachments", desk.auth("duty")
    kept = (await desk.http.post(url, headers=auth, files={"files": ("a.png", png(), "image/png")})).json()[0]
    before = blobs(desk)
    desk.http._transport.app.state.settings.attachment_max_bytes = 50_000
    refused = [
        ("empty.png", b"", 422, "是空的"),
        ("big.pdf", PDF + b"0" * 60_000, 413, "的上限"),
        ("post.html", b"<!DOCTYPE html><script>alert(1)</script>", 415, "网页或 SVG"),
        ("logo.svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', 415, "网页或 SVG"),
        ("photo.jpg", b"MZ\x90\x00" + b"\x00" * 100, 415, "可执行程序"),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, 422, "已损坏"),
        ("again.png", png(), 409, "已作为证据上传过（“a.png”）"),
    ]
    for name, content, status, sentence in refused:
        # a good file beside the bad one: the upload is taken whole or not at all
        r = await desk.http.post(url, headers=auth, files=[("files", ("ok.png", png(color="blue"), "image/png")),
                                                           ("files", (name, content, "image/png"))])
        assert r.status_code == status, (name, r.text)
        detail = r.json()["detail"]
        assert detail[0]["field"] == "files" and sentence in detail[0]["msg"] and name in detail[0]["msg"], detail
    assert [a.key for a in rows(desk.database_url, Attachment)] == [kept["key"]]
    assert len(events(desk, "attachment_added")) == 1
    assert blobs(desk) == before  # no orphan blob (nor thumbnail) from any refused upload


async def test_a_task_done_only_with_a_file_takes_one_of_the_incidents_files(desk):
    """A task that needs a file as its result: a file that is not this incident's (or one withdrawn) is refused on
    the field before the workflow is asked; one of its files, uploaded by the party, completes it."""
    iid = (await desk.open(title="须附文件的督办事项", party="bazhou")).json()["id"]
    url = f"/api/incidents/{iid}"
    r = await desk.http.post(url + "/tasks", headers=desk.auth("super"), json={
        "party": "bazhou", "text": "上传现场处置照片", "due_at": "2099-01-01T09:00:00+08:00", "needs_attachment": True})
    assert r.status_code == 200, r.text
    picture = png(color="#336699")
    r = await desk.http.post(url + "/attachments", headers=desk.auth("bazhou"),
                             files={"files": ("现场.png", picture, "image/png")})
    assert r.status_code in (200, 201, 202), r.text
    kept = hashlib.sha256(picture).hexdigest()
    r = await desk.http.post(url + "/task-results", headers=desk.auth("bazhou"),
                             json={"task": 1, "note": "已上传", "attachment": "ab" * 32})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "attachment", r.text
    assert "不是本事件的附件" in r.json()["detail"][0]["msg"]
    r = await desk.http.post(url + "/task-results", headers=desk.auth("bazhou"),
                             json={"task": 1, "note": "已上传", "attachment": kept})
    assert r.status_code == 200, r.text
    assert [(t["n"], t["state"]) for t in r.json()["tasks"]] == [(1, "met")]
