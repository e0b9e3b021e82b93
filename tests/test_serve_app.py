"""livebg/serve/app.py through an ASGI client (and one real uvicorn): every endpoint, every error, the
limits, the token, and results equal to the Python API's on the same input."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install 'livebg[web]')")
pytest.importorskip("httpx", reason="httpx is needed for FastAPI's TestClient")

import uvicorn
from fastapi.testclient import TestClient

from livebg.serve.app import STATIC, create_app
from livebg.serve.config import ServeConfig
from livebg.serve.jobs import INTERNAL_ERROR, JobQueue
from livebg.serve.storage import Storage
from livebg.serve.thumbnails import SIZE

from .fakes import GatedMatter
from .media import make_clip, probe, read_frames

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
LOCAL = "http://127.0.0.1"


@contextlib.contextmanager
def serving(
    tmp_path: Path, matter: Any = None, **settings: Any
) -> Iterator[tuple[TestClient, JobQueue, Any]]:
    """A client of the app with ``matter`` (default: a :class:`GatedMatter`) and these settings."""
    config = ServeConfig(**settings)
    matter = matter or GatedMatter()
    storage = Storage(config.disk_limit_bytes, parent=tmp_path)
    queue = JobQueue(matter, storage, queue_size=config.queue_size, time_limit=config.time_limit)
    app = create_app(config, queue, storage, model="rvm-mobilenetv3")
    with TestClient(app, base_url=LOCAL) as client:
        yield client, queue, matter
    assert not storage.root.exists(), "the server's folder outlived it"


def picture(
    path: Path, size: tuple[int, int] = (48, 64), colour: tuple[int, int, int] = (200, 120, 40)
) -> Path:
    """A PNG of a colour with a darker square in the middle (RGB ``colour``)."""
    rgb = np.empty((*size, 3), np.uint8)
    rgb[:] = colour
    rgb[size[0] // 4 : -size[0] // 4, size[1] // 4 : -size[1] // 4] //= 2
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def decode(data: bytes) -> np.ndarray:
    """PNG/JPEG bytes as RGB or RGBA."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    return cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA if image.shape[2] == 4 else cv2.COLOR_BGR2RGB)


def finish(client: TestClient, job_id: str, timeout: float = 60) -> dict[str, Any]:
    """Poll a job until it ends; its last state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not end in {timeout} s")


def submit(client: TestClient, path: Path, name: str | None = None, **fields: str) -> Any:
    with path.open("rb") as f:
        return client.post("/api/jobs", files={"file": (name or path.name, f)}, data=fields)


# ---------------------------------------------------------------------------------------------------
# The page and the service endpoints


def test_the_page_and_its_assets_are_local_and_carry_security_headers(tmp_path: Path) -> None:
    with serving(tmp_path) as (client, _, _):
        page = client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "no-referrer"
        assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
        assert sorted(set(assets)) == ["/static/app.js", "/static/favicon.svg", "/static/style.css"]
        for asset in assets:
            response = client.get(asset)
            assert response.status_code == 200, asset
            assert response.headers["content-security-policy"] == csp
    for path in STATIC.iterdir():  # nothing is fetched from elsewhere: the page works offline
        text = path.read_text().replace("http://www.w3.org/2000/svg", "")
        assert not re.search(r"https?://|//cdn|@import", text), path.name


def test_healthz_answers_while_a_job_runs(tmp_path: Path) -> None:
    gate = threading.Event()
    with serving(tmp_path, GatedMatter(gate)) as (client, queue, _):
        job = submit(client, picture(tmp_path / "p.png")).json()
        deadline = time.monotonic() + 30
        while queue.counts()["running"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.json() == {
            "status": "ok",
            "version": "0.1.0",
            "model": "rvm-mobilenetv3",
            "queued": 0,
            "running": 1,
        }
        assert client.get(f"/api/jobs/{job['id']}").json()["state"] == "running"
        gate.set()
        assert finish(client, job["id"])["state"] == "done"


def test_openapi_and_the_offline_docs_page(tmp_path: Path) -> None:
    with serving(tmp_path) as (client, _, _):
        spec = client.get("/openapi.json").json()
        assert {
            "/api/remove",
            "/api/jobs",
            "/api/jobs/{job_id}",
            "/api/jobs/{job_id}/result",
            "/healthz",
        } <= set(spec["paths"])
        form = spec["paths"]["/api/jobs"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert form["required"] == ["file"]
        assert {"file", "background", "background_file", "output_type", "format", "no_audio"} <= set(
            form["properties"]
        )
        assert set(spec["paths"]["/api/jobs/{job_id}"]) == {"get", "delete"}
        docs = client.get("/docs")
        assert docs.status_code == 200 and "<script" not in docs.text
        assert "/api/jobs/{job_id}/result" in docs.text and "background_file" in docs.text


def test_the_readmes_api_table_names_every_endpoint(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("\n## Web app and HTTP API\n", 1)[1].split("\n## ", 1)[0]
    listed = {
        (m.lower(), p.replace("{id}", "{job_id}"))
        for m, p in re.findall(r"^\| `(\w+) (/\S+)` \|", section, re.M)
    }
    with serving(tmp_path) as (client, _, _):
        spec = client.get("/openapi.json").json()
    served = {
        (method, path) for path, item in spec["paths"].items() for method in item if "thumbnail" not in path
    }
    assert listed == served


def test_bundled_backgrounds_and_their_thumbnails(tmp_path: Path) -> None:
    with serving(tmp_path) as (client, _, _):
        listing = client.get("/api/backgrounds").json()
        names = [bg["name"] for bg in listing["backgrounds"]]
        assert "studio" in names and listing["max_upload_bytes"] == ServeConfig().max_upload_bytes
        thumb = client.get(listing["backgrounds"][names.index("studio")]["thumbnail"])
        assert thumb.headers["content-type"] == "image/jpeg"
        assert decode(thumb.content).shape == (*SIZE, 3)
        for name in ("nope", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd"):
            response = client.get(f"/api/backgrounds/{name}/thumbnail.jpg")
            assert response.status_code == 404 and "error" in response.json()


# ---------------------------------------------------------------------------------------------------
# Results


def test_remove_answers_the_cut_out_png(tmp_path: Path) -> None:
    source = picture(tmp_path / "photo.png")
    with serving(tmp_path) as (client, _, matter):
        with source.open("rb") as f:
            response = client.post("/api/remove", files={"file": ("photo.png", f)})
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        assert response.headers["content-disposition"] == 'inline; filename="photo-livebg.png"'
        np.testing.assert_array_equal(decode(response.content), matter.remove(source))
        with source.open("rb") as f:
            replaced = client.post(
                "/api/remove", files={"file": ("photo.png", f)}, data={"background": "studio"}
            )
        np.testing.assert_array_equal(decode(replaced.content), matter.replace(source, "studio"))
    assert matter.peak == 1


def test_a_picture_job_from_upload_to_download(tmp_path: Path) -> None:
    source = picture(tmp_path / "photo.png")
    with serving(tmp_path) as (client, _, matter):
        created = submit(client, source, background="#0000ff")
        assert created.status_code == 202
        job = created.json()
        assert created.headers["location"] == f"/api/jobs/{job['id']}"
        assert (job["kind"], job["media_type"], job["filename"]) == ("image", "image/png", "photo-livebg.png")
        assert finish(client, job["id"])["result"] == f"/api/jobs/{job['id']}/result"
        shown = client.get(f"/api/jobs/{job['id']}/result")
        assert shown.headers["content-disposition"].startswith("inline")
        saved = client.get(f"/api/jobs/{job['id']}/result?download=1")
        assert saved.headers["content-disposition"] == 'attachment; filename="photo-livebg.png"'
        np.testing.assert_array_equal(decode(saved.content), matter.replace(source, "#0000ff"))
        matte = finish(client, submit(client, source, output_type="alpha").json()["id"])
        grey = decode(client.get(matte["result"]).content)
        alpha = matter.matte(source).alpha_uint8()
        np.testing.assert_array_equal(grey, np.dstack([alpha] * 3))
        assert client.delete(f"/api/jobs/{job['id']}").status_code == 204
        assert client.get(f"/api/jobs/{job['id']}").status_code == 404
        assert client.get(f"/api/jobs/{job['id']}/result").status_code == 404


def test_an_uploaded_background_goes_behind_the_person(tmp_path: Path) -> None:
    source = picture(tmp_path / "photo.png", size=(60, 60))
    red = picture(tmp_path / "red.png", size=(30, 30), colour=(255, 0, 0))
    red_rgb = decode(red.read_bytes())
    red_rgb[:] = (255, 0, 0)
    cv2.imwrite(str(red), cv2.cvtColor(red_rgb, cv2.COLOR_RGB2BGR))
    with serving(tmp_path) as (client, _, _), source.open("rb") as f, red.open("rb") as b:
        job = client.post(
            "/api/jobs", files={"file": ("photo.png", f), "background_file": ("r.png", b)}
        ).json()
        result = decode(client.get(finish(client, job["id"])["result"]).content)
    assert (result[0, 0] == (255, 0, 0)).all()  # the disc matte leaves the corners to the background
    assert (result[30, 30] == decode(source.read_bytes())[30, 30]).all()


def test_a_clip_job_keeps_frames_timestamps_and_audio(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "talk.mp4", size=(32, 48), frames=10, audio=True)
    with serving(tmp_path) as (client, _, matter):
        job = submit(client, clip, background="blur:30").json()
        assert (job["kind"], job["media_type"], job["filename"]) == ("clip", "video/mp4", "talk-livebg.mp4")
        done = finish(client, job["id"])
        assert (done["state"], done["frames_done"], done["frames_total"]) == ("done", 10, 10)
        served = tmp_path / "served.mp4"
        served.write_bytes(client.get(done["result"]).content)
        direct = tmp_path / "direct.mp4"
        matter.process(clip, direct, background="blur:30")
        transparent = finish(client, submit(client, clip, background="transparent").json()["id"])
        assert transparent["state"] == "done", transparent  # ProRes 4444 in MOV, with the AAC sound
        assert transparent["media_type"] == "video/quicktime" and transparent["filename"] == "talk-livebg.mov"
        webm = finish(client, submit(client, clip, background="transparent", format="webm").json()["id"])
        assert webm["state"] == "failed" and "cannot be copied into a .webm file" in webm["error"]
        silent = submit(client, clip, background="transparent", format="webm", no_audio="true").json()
        assert finish(client, silent["id"])["state"] == "done"
    got, want, source = probe(served), probe(direct), probe(clip)
    assert got.frames == source.frames == 10 and got.times == source.times
    assert got.audio_packets == source.audio_packets and got.audio_packets
    assert got == want
    assert all(np.array_equal(a, b) for a, b in zip(read_frames(served), read_frames(direct), strict=True))


# ---------------------------------------------------------------------------------------------------
# Errors, limits and safety


def test_errors_are_one_sentence_json(tmp_path: Path) -> None:
    text = tmp_path / "photo.jpg"
    text.write_text("this is not a picture\n")
    source = picture(tmp_path / "p.png")
    clip = make_clip(tmp_path / "c.mp4", size=(16, 16), frames=2)
    with serving(tmp_path) as (client, _, _), source.open("rb") as f:
        picture_bytes = f.read()
        cases = [
            (client.post("/api/jobs", files={"background": (None, "studio")}), 422, "the form has no file"),
            (submit(client, text), 415, "the upload is neither a picture nor a video"),
            (submit(client, source, background="/etc/passwd"), 422, "unknown background '/etc/passwd'"),
            (submit(client, source, weights="/tmp/x.pth"), 422, "unknown field 'weights'"),
            (
                submit(client, clip, background="transparent", format="mp4"),
                422,
                "transparent clip cannot be stored",
            ),
            (
                client.post("/api/remove", files={"file": ("c.mp4", clip.read_bytes())}),
                415,
                "POST /api/remove takes one picture",
            ),
            (client.post("/api/remove", content=picture_bytes), 422, "not a multipart/form-data form"),
            (client.get("/api/jobs/0123"), 404, "there is no job '0123'"),
            (client.get("/api/jobs/0123/result"), 404, "there is no job"),
            (client.delete("/api/jobs/0123"), 404, "there is no job"),
            (client.get("/nowhere"), 404, "there is nothing at /nowhere"),
            (client.put("/api/jobs"), 405, "PUT is not accepted at /api/jobs"),
        ]
    for response, status, message in cases:
        assert response.status_code == status, (response.status_code, response.text)
        body = response.json()
        assert list(body) == ["error"] and message in body["error"], body
        assert "Traceback" not in body["error"] and str(tmp_path) not in body["error"]


def test_failures_in_processing_never_leak_tracebacks_or_paths(tmp_path: Path) -> None:
    class Broken(GatedMatter):
        def process(self, input: object, output: object, **options: object) -> object:
            raise RuntimeError(f"internal detail {input}")

    with serving(tmp_path, Broken()) as (client, _, _), picture(tmp_path / "p.png").open("rb") as f:
        response = client.post("/api/remove", files={"file": ("p.png", f)})
    assert response.status_code == 500 and response.json() == {"error": INTERNAL_ERROR}


def test_uploads_over_the_limit_get_413(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + bytes(300_000))
    with serving(tmp_path, max_upload_bytes=100_000) as (client, queue, _):
        declared = submit(client, big)
        assert declared.status_code == 413
        assert declared.json()["error"].startswith("the upload is larger than this server's limit of 0 MB")

        def chunked() -> Iterator[bytes]:  # no Content-Length: the limit is found while streaming
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n\r\n'
            for _ in range(30):
                yield bytes(10_000)
            yield b"\r\n--b--\r\n"

        streamed = client.post(
            "/api/jobs", content=chunked(), headers={"content-type": "multipart/form-data; boundary=b"}
        )
        assert streamed.status_code == 413 and "larger than this server's limit" in streamed.json()["error"]
        assert list(queue.storage.root.iterdir()) == []  # nothing kept of either
        assert queue.storage.used_bytes == 0


def test_the_disk_cap_refuses_uploads_with_507(tmp_path: Path) -> None:
    noise = tmp_path / "noise.png"
    cv2.imwrite(str(noise), np.random.default_rng(2).integers(0, 256, (100, 100, 3), dtype=np.uint8))
    with serving(tmp_path, disk_limit_bytes=20_000) as (client, queue, _):
        assert noise.stat().st_size > 20_000
        response = submit(client, noise)
        assert response.status_code == 507
        assert "space for uploads and results" in response.json()["error"]
        assert queue.storage.used_bytes == 0


def test_path_like_file_names_touch_nothing_outside_the_servers_folder(tmp_path: Path) -> None:
    inside = tmp_path / "inside"
    inside.mkdir()
    source = picture(inside / "p.png")
    before = sorted(p for p in tmp_path.rglob("*"))
    with serving(tmp_path) as (client, queue, _):
        root = queue.storage.root
        for name in ("../../../../escape.png", "/tmp/escape.png", "..\\..\\escape.png", "a/../../escape.png"):
            job = finish(client, submit(client, source, name=name).json()["id"])
            assert job["state"] == "done" and job["filename"] == "escape-livebg.png"
            files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
            assert files == [f"{job['id']}/input.png", f"{job['id']}/result.png"]
            client.delete(f"/api/jobs/{job['id']}")
        created = sorted(p for p in tmp_path.rglob("*") if p not in before and not p.is_relative_to(root))
        assert created == []
    assert not list(tmp_path.rglob("escape*"))


def test_a_result_is_not_ready_while_its_job_runs_and_deleting_stops_it(tmp_path: Path) -> None:
    gate = threading.Event()
    with serving(tmp_path, GatedMatter(gate)) as (client, queue, _):
        job = submit(client, picture(tmp_path / "p.png")).json()
        early = client.get(f"/api/jobs/{job['id']}/result")
        assert early.status_code == 409 and early.json()["error"].startswith("the job is ")
        assert client.delete(f"/api/jobs/{job['id']}").status_code == 204
        gate.set()
        deadline = time.monotonic() + 30
        while any(queue.storage.root.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert list(queue.storage.root.iterdir()) == []


def test_a_full_queue_answers_503(tmp_path: Path) -> None:
    gate = threading.Event()
    with serving(tmp_path, GatedMatter(gate), queue_size=1) as (client, queue, _):
        source = picture(tmp_path / "p.png")
        first = submit(client, source).json()
        while queue.counts()["running"] == 0:
            time.sleep(0.01)
        assert submit(client, source).status_code == 202  # waits
        refused = submit(client, source)
        assert refused.status_code == 503 and "already waiting" in refused.json()["error"]
        assert len(list(queue.storage.root.iterdir())) == 2  # the refused upload was not kept
        gate.set()
        assert finish(client, first["id"])["state"] == "done"


def test_the_token_guards_every_request(tmp_path: Path) -> None:
    with serving(tmp_path, token="s3cret") as (client, _, _):
        for path in ("/", "/healthz", "/api/backgrounds", "/static/app.js", "/openapi.json"):
            refused = client.get(path)
            assert refused.status_code == 401, path
            assert "needs its access token" in refused.json()["error"]
        assert client.get("/", headers={"accept": "text/html"}).status_code == 401
        assert client.get("/healthz", headers={"authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/healthz", headers={"authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/?token=wrong", follow_redirects=False).status_code == 401
        entered = client.get("/?token=s3cret", follow_redirects=False)
        assert entered.status_code == 303 and entered.headers["location"] == "/"
        cookie = entered.headers["set-cookie"]
        assert "livebg_token=s3cret" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert client.get("/api/backgrounds").status_code == 200  # the client keeps the cookie now


def test_a_local_server_answers_only_to_local_host_names(tmp_path: Path) -> None:
    with serving(tmp_path) as (client, _, _):
        for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "localhost"):
            assert client.get("/healthz", headers={"host": host}).status_code == 200, host
        rebound = client.get("/healthz", headers={"host": "attacker.example:8000"})
        assert rebound.status_code == 421 and "answers only to local addresses" in rebound.json()["error"]
    with serving(tmp_path, host="0.0.0.0", token="t") as (client, _, _):
        headers = {"host": "livebg.lan:8000", "authorization": "Bearer t"}
        assert client.get("/healthz", headers=headers).status_code == 200


def test_cors_is_off_unless_asked(tmp_path: Path) -> None:
    origin = {"origin": "https://app.example"}
    with serving(tmp_path) as (client, _, _):
        assert "access-control-allow-origin" not in client.get("/healthz", headers=origin).headers
    with serving(tmp_path, cors_origins=("https://app.example",)) as (client, _, _):
        assert (
            client.get("/healthz", headers=origin).headers["access-control-allow-origin"]
            == "https://app.example"
        )
        other = client.get("/healthz", headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


# ---------------------------------------------------------------------------------------------------
# Ten uploads at once through a real server


@contextlib.contextmanager
def uvicorn_thread(app: Any) -> Iterator[int]:
    """``app`` served by uvicorn in a thread on a free loopback port; yields the port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def upload_streamed(port: int, path: Path, chunk: int = 65536) -> dict[str, Any]:
    """POST /api/jobs with ``path`` sent in chunks (the client never holds the whole body), asking for
    the matte (quick to encode)."""
    head = (
        b'--b\r\nContent-Disposition: form-data; name="output_type"\r\n\r\nalpha\r\n'
        + f'--b\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n\r\n'.encode()
    )
    tail = b"\r\n--b--\r\n"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.putrequest("POST", "/api/jobs")
    connection.putheader("content-type", "multipart/form-data; boundary=b")
    connection.putheader("content-length", str(len(head) + path.stat().st_size + len(tail)))
    connection.endheaders()
    connection.send(head)
    with path.open("rb") as f:
        while data := f.read(chunk):
            connection.send(data)
    connection.send(tail)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status == 202, body
    return json.loads(body)


def test_ten_parallel_uploads_queue_in_order_with_bounded_memory(tmp_path: Path) -> None:
    noise = np.random.default_rng(1).integers(0, 256, (1300, 1300, 3), dtype=np.uint8)
    uploads = []
    for i in range(10):
        path = tmp_path / f"noise{i}.png"
        cv2.imwrite(str(path), noise, [cv2.IMWRITE_PNG_COMPRESSION, 0])
        uploads.append(path)
    total = sum(p.stat().st_size for p in uploads)
    gate = threading.Event()
    matter = GatedMatter(gate)
    storage = Storage(10**9, parent=tmp_path)
    queue = JobQueue(matter, storage)
    app = create_app(ServeConfig(), queue, storage, model="rvm-mobilenetv3")
    with uvicorn_thread(app) as port:
        tracemalloc.start()
        try:
            results: list[dict[str, Any]] = [{}] * 10
            threads = [
                threading.Thread(target=lambda i=i: results.__setitem__(i, upload_streamed(port, uploads[i])))
                for i in range(10)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert all(r.get("id") for r in results)
        # 10 x 5 MB went through; what is held at once is a few chunks per connection (uvicorn's flow
        # control), whatever the size of the files.
        assert total > 48 * 2**20 and peak < total / 3, (total, peak)
        gate.set()
        jobs = [queue.get(r["id"]) for r in results]
        for job in jobs:
            assert job.ended.wait(60)
        assert all(job.state == "done" for job in jobs)
    by_queue = sorted(jobs, key=lambda job: job.number)
    assert [Path(p).parent.name for p in matter.inputs] == [job.id for job in by_queue]
    assert matter.peak == 1
    assert not storage.root.exists()


# ---------------------------------------------------------------------------------------------------
# With the real model: the same results as the Python API and `livebg video`


@pytest.fixture(scope="module")
def matter(rvm_checkpoint: Path) -> Any:
    import livebg

    return livebg.Matter(weights=rvm_checkpoint, device="cpu", backend="torch")


def test_remove_and_jobs_match_the_python_api(tmp_path: Path, matter: Any, data_dir: Path) -> None:
    portrait = tmp_path / "portrait.jpg"
    full = cv2.imread(str(data_dir / "portrait_01.jpg"))
    small = cv2.resize(full, (full.shape[1] // 6, full.shape[0] // 6), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(portrait), small)
    with serving(tmp_path, matter) as (client, _, _):
        with portrait.open("rb") as f:
            removed = decode(client.post("/api/remove", files={"file": ("portrait.jpg", f)}).content)
        job = finish(client, submit(client, portrait, background="studio").json()["id"])
        replaced = decode(client.get(job["result"]).content)
    want = matter.remove(portrait)
    assert removed.shape == want.shape
    assert np.abs(removed[..., 3].astype(int) - want[..., 3]).max() <= 1
    assert 0.05 < (want[..., 3] > 128).mean() < 0.95  # a person was found, not everything or nothing
    assert np.abs(replaced.astype(int) - matter.replace(portrait, "studio")).max() <= 1


def test_a_clip_job_matches_livebg_video(tmp_path: Path, matter: Any) -> None:
    clip = make_clip(tmp_path / "talk.mp4", size=(64, 96), frames=6, audio=True)
    with serving(tmp_path, matter) as (client, _, _):
        job = finish(client, submit(client, clip, background="green").json()["id"], timeout=120)
        assert job["state"] == "done", job
        served = tmp_path / "served.mp4"
        served.write_bytes(client.get(job["result"]).content)
    direct = tmp_path / "direct.mp4"
    matter.process(clip, direct, background="green")
    got, want, source = probe(served), probe(direct), probe(clip)
    assert got.frames == want.frames == source.frames == 6
    assert got.times == want.times == source.times
    assert got.audio_packets == want.audio_packets == source.audio_packets and got.audio_packets
    for a, b in zip(read_frames(served), read_frames(direct), strict=True):
        assert np.abs(a.astype(int) - b).max() <= 1
