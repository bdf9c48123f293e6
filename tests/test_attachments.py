"""Photos and files over real HTTP and sockets: checked by content, served inert, only to who may read them."""

import io

import pytest
import requests
from PIL import Image

from tests.support import AgentClient, ServerProcess, Shopper, add_agent, login

MAX_BYTES = 300_000
ECHO = "crossdesk:shopper_message"


def png(size=(800, 600), color=(200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (20, 90, 200)).save(out, "JPEG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(1)</script></svg>'
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


@pytest.fixture(scope="module")
def files_server(model_path, tmp_path_factory):
    process = ServerProcess(tmp_path_factory.mktemp("files"), model_path,
                            env={"CROSSDESK_MAX_UPLOAD_BYTES": str(MAX_BYTES)}).start()
    add_agent(process.var_dir, "sora", "sora-password-1", languages="en")
    add_agent(process.var_dir, "taro", "taro-password-1", languages="en")
    add_agent(process.var_dir, "boss", "boss-password-1", languages="en", role="admin")
    yield process
    process.stop()


def token(server, name: str) -> str:
    return login(server.url, name, f"{name}-password-1")[1]["token"]


def upload(server, data: bytes, name="photo.png", mime="image/png", token=None, **fields):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(server.url + "/api/attachments", files={"file": (name, data, mime)}, data=fields,
                         headers=headers, timeout=15)


def get(server, path: str, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(server.url + path, headers=headers, timeout=15)


async def shopper_with_agent(server):
    shopper = Shopper(server.url)
    shopper.client.on(ECHO, shopper._recorder(ECHO))
    await shopper.connect()
    await shopper.ask("hello")
    agent = AgentClient(server.url, token(server, "sora"))
    await agent.connect()
    assert (await agent.call("claim", {"conversation_id": shopper.session_id}))["ok"]
    return shopper, agent


async def test_a_shoppers_photo_reaches_the_agent_with_a_thumbnail_and_is_served_inert(files_server):
    shopper, agent = await shopper_with_agent(files_server)
    answer = upload(files_server, png(), "../../etc/damaged parcel.png", session_id=shopper.session_id)
    assert answer.status_code == 200, answer.text
    file = answer.json()["file"]
    assert (file["content_type"], file["filename"], file["width"], file["height"]) == (
        "image/png", "damaged parcel.png", 800, 600)
    _, echo = await shopper.expect(ECHO)  # every tab of the shopper shows it
    assert echo["file"]["id"] == file["id"] and echo["sender"] == "shopper"
    _, relayed = await agent.expect("agent:shopper_message")
    assert relayed["message"]["file"]["id"] == file["id"]

    original = get(files_server, file["url"])
    assert original.status_code == 200 and original.content == png()
    assert original.headers["Content-Type"] == "image/png"
    assert original.headers["X-Content-Type-Options"] == "nosniff"
    assert original.headers["Content-Security-Policy"].startswith("sandbox")
    assert original.headers["Content-Disposition"].startswith('inline; filename="damaged parcel.png"')
    thumb = get(files_server, file["thumbnail"])
    assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(thumb.content)).size == (320, 240)

    # The agent holding it reads it with their login, without the shopper's key.
    assert get(files_server, f"/api/attachments/{file['id']}", token(files_server, "sora")).status_code == 200
    for client in (shopper, agent):
        await client.close()


async def test_files_that_only_look_like_images_are_refused(files_server):
    shopper = Shopper(files_server.url)
    await shopper.connect()
    await shopper.ask("hello")
    session = shopper.session_id
    for data, name, mime, code, status in (
            (SVG, "cute-cat.png", "image/png", "unsupported_type", 400),
            (HTML, "receipt.png", "image/png", "unsupported_type", 400),
            (SVG, "drawing.svg", "image/svg+xml", "unsupported_type", 400),
            (png()[:60], "cut.png", "image/png", "invalid_image", 400),  # a PNG signature, then nothing
            (b"\xff\xd8\xff" + HTML, "fake.jpg", "image/jpeg", "invalid_image", 400),
            (b"", "empty.png", "image/png", "empty_file", 400),
            (png((3000, 3000)) + b"\0" * MAX_BYTES, "huge.png", "image/png", "file_too_large", 413)):
        answer = upload(files_server, data, name, mime, session_id=session)
        assert (answer.status_code, answer.json()["error"]) == (status, code), name
    ok = upload(files_server, jpeg(), "photo", "application/octet-stream", session_id=session)
    assert ok.status_code == 200 and ok.json()["file"]["content_type"] == "image/jpeg"  # the bytes decide
    await shopper.close()


async def test_nobody_else_can_fetch_or_upload_into_a_conversation(files_server):
    shopper, agent = await shopper_with_agent(files_server)
    file = upload(files_server, png(), session_id=shopper.session_id).json()["file"]
    stranger = Shopper(files_server.url)
    await stranger.connect()
    await stranger.ask("hello")
    other_key = upload(files_server, png(), session_id=stranger.session_id).json()["file"]["url"].split("key=")[1]
    for path, who in ((f"/api/attachments/{file['id']}", None),  # no key, no login
                      (f"/api/attachments/{file['id']}?key={other_key}", None),  # another session's key
                      (f"/api/attachments/{file['id']}", token(files_server, "taro")),  # an agent who never had it
                      ("/api/attachments/../../crossdesk.db", None)):
        assert get(files_server, path, who).status_code == 404, path
    assert get(files_server, f"/api/attachments/{file['id']}", token(files_server, "boss")).status_code == 200
    assert upload(files_server, png(), session_id="nosuchsession0000000").json()["error"] == "no_session"
    assert upload(files_server, png(), conversation_id=shopper.session_id).status_code == 401
    refused = upload(files_server, png(), conversation_id=shopper.session_id, token=token(files_server, "taro"))
    assert (refused.status_code, refused.json()["error"]) == (403, "not_assigned")
    for client in (shopper, stranger, agent):
        await client.close()


async def test_an_agents_pdf_reaches_the_shopper_and_plain_rasa_tabs_get_text_only(files_server):
    shopper, agent = await shopper_with_agent(files_server)
    await shopper.expect("bot_uttered", where=lambda m: m.get("event") == "utter_agent_joined")
    plain = Shopper(files_server.url)
    await plain.connect(session_id=shopper.session_id, extensions=None)
    answer = upload(files_server, PDF, "invoice.pdf", "application/pdf", token=token(files_server, "sora"),
                    conversation_id=shopper.session_id)
    assert answer.status_code == 200, answer.text
    _, message = await shopper.expect("bot_uttered", where=lambda m: m.get("file"))
    assert message["sender"] == "agent" and message["file"]["content_type"] == "application/pdf"
    assert "thumbnail" not in message["file"]
    _, rasa_shape = await plain.expect("bot_uttered")
    assert rasa_shape == {"text": "invoice.pdf"}
    pdf = get(files_server, message["file"]["url"])
    assert pdf.content == PDF and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.headers["Content-Disposition"].startswith('attachment; filename="invoice.pdf"')
    for client in (shopper, plain, agent):
        await client.close()


async def test_erasing_a_shopper_removes_their_files_from_disk(files_server):
    import json
    import os
    import subprocess
    import sys

    shopper = Shopper(files_server.url)
    await shopper.connect()
    await shopper.ask("hello")
    file = upload(files_server, png(), session_id=shopper.session_id).json()["file"]
    await shopper.close()
    stored = files_server.var_dir / "uploads" / file["id"]
    assert stored.exists() and stored.with_suffix(".thumb").exists()
    erased = subprocess.run([sys.executable, "-m", "handoff", "shopper", "delete", "--session", shopper.session_id],
                            env={**os.environ, "CROSSDESK_VAR_DIR": str(files_server.var_dir)},
                            capture_output=True, text=True, check=True)
    assert json.loads(erased.stdout)["deleted"]["files"] == 1
    assert not stored.exists() and not stored.with_suffix(".thumb").exists()
    assert get(files_server, file["url"]).status_code == 404


async def test_files_stay_in_the_history_and_on_disk_after_a_restart(files_server):
    shopper, agent = await shopper_with_agent(files_server)
    file = upload(files_server, png(), "box.png", session_id=shopper.session_id).json()["file"]
    for client in (shopper, agent):
        await client.close()
    files_server.stop()
    files_server.start()
    back = Shopper(files_server.url)
    await back.connect(session_id=shopper.session_id)
    _, history = await back.expect("crossdesk:history")
    assert [m["file"]["id"] for m in history["messages"] if m.get("file")] == [file["id"]]
    assert get(files_server, file["url"]).content == png()
    await back.close()


def test_a_multipart_body_without_its_boundary_is_a_clear_400_not_a_server_traceback(files_server):
    before = files_server.log().count("Traceback")
    answer = requests.post(files_server.url + "/api/attachments", data=b"--x\r\n",
                           headers={"Content-Type": "multipart/form-data"}, timeout=10)
    assert (answer.status_code, answer.json()["error"]) == (400, "no_file")
    assert files_server.log().count("Traceback") == before
