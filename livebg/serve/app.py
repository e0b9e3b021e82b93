"""The FastAPI application: the page, its assets, the API, and the rules every request passes.

Every request: a loopback-only server answers only to loopback host names (so a web page elsewhere
cannot reach it through DNS rebinding); with a token, the request carries it (``Authorization: Bearer``
or the page's cookie); every response carries the security headers; every error is ``{"error": "one
sentence"}`` with no traceback and no server path.

About 430 lines: the routes stay beside the rules they all pass (host check, token, headers, error
bodies), so that a reader sees at once that no route escapes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from livebg import __version__
from livebg.errors import LivebgError
from livebg.serve import apidocs, work
from livebg.serve.config import ServeConfig, is_loopback
from livebg.serve.content import identify
from livebg.serve.errors import BadForm, NotReady, Unauthorized, UnsupportedUpload
from livebg.serve.jobs import DONE, Job, JobQueue
from livebg.serve.options import (
    ALPHA_FORMATS,
    CLIP_FORMATS,
    IMAGE_FORMATS,
    JOB_FIELDS,
    PRESETS,
    REMOVE_FIELDS,
    parse_options,
)
from livebg.serve.storage import Storage
from livebg.serve.thumbnails import Thumbnails
from livebg.serve.uploads import check_declared_length, receive_form, too_large_message

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "livebg_token"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
MEDIA_TYPES = {
    ".png": "image/png",
    ".webp": "image/webp",
    ".jpg": "image/jpeg",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
}
_WAIT_STEP = 0.05  # seconds between two looks at a synchronous job


def create_app(config: ServeConfig, queue: JobQueue, storage: Storage, *, model: str) -> FastAPI:
    """The application for ``queue`` (which it starts, and closes with ``storage`` when it stops).
    ``model``: the name of the loaded model (a request may name it, not another)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        queue.start()
        try:
            yield
        finally:
            await run_in_threadpool(queue.close)
            storage.close()

    app = FastAPI(
        title="livebg",
        version=__version__,
        description="Remove or replace the background behind people in pictures and clips.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    thumbnails = Thumbnails()
    _add_guards(app, config)
    _add_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    async def submit_job(
        request: Request, accepted: tuple[str, ...], *, default_background: str, images_only: bool
    ) -> Job:
        """Stream the form to a new job folder, check it and queue the job; the folder is removed on any
        error."""
        check_declared_length(request.headers.get("content-length"), config.max_upload_bytes)
        queue.check_room()
        job_id, folder = storage.create()
        try:
            form = await receive_form(
                request.headers.get("content-type", ""),
                request.stream(),
                files={"file": folder / "upload", "background_file": folder / "background-upload"},
                storage=storage,
                job_id=job_id,
                limit=config.max_upload_bytes,
            )
            upload = form.files.get("file")
            if upload is None:
                raise BadForm(
                    "the form has no file; send the picture or clip in the field 'file' "
                    "(e.g. curl -F file=@photo.jpg)"
                )
            options = parse_options(
                form.fields,
                accepted,
                model=model,
                default_background=default_background,
                background_file="background_file" in form.files,
            )
            media = await run_in_threadpool(identify, upload.path, max_pixels=config.max_pixels)
            if images_only and media.kind != "image":
                raise UnsupportedUpload(
                    "POST /api/remove takes one picture, and the upload is a clip; "
                    "send clips to POST /api/jobs"
                )
            suffix = options.suffix(media.kind)
            source = upload.path.rename(folder / f"input{media.suffix}")
            labels = {source: "the upload"}
            background = None
            if "background_file" in form.files:
                found = await run_in_threadpool(
                    identify,
                    form.files["background_file"].path,
                    what="the background upload",
                    max_pixels=config.max_pixels,
                )
                background = form.files["background_file"].path.rename(folder / f"background{found.suffix}")
                labels[background] = "the background upload"
            result = folder / f"result{suffix}"
            job = Job(
                id=job_id,
                kind=media.kind,
                work=work.process(source, result, options, background),
                result=result,
                media_type=MEDIA_TYPES[suffix],
                download_name=download_name(upload.filename, suffix),
                labels=labels,
            )
            queue.submit(job)
            return job
        except BaseException:
            storage.remove(job_id)
            raise

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(apidocs.render(app.openapi()))

    @app.get("/healthz", summary="Whether the server is up", responses={200: {"description": "it is"}})
    async def healthz() -> dict[str, Any]:
        """Answers at once, also while jobs run: status ok, the model, and how many jobs are queued and
        running."""
        return {"status": "ok", "version": __version__, "model": model, **queue.counts()}

    @app.get("/api/backgrounds", summary="The bundled backgrounds")
    async def backgrounds() -> dict[str, Any]:
        """Names to pass as background and their preview pictures, with the accepted formats."""
        return {
            "backgrounds": [
                {"name": name, "thumbnail": f"/api/backgrounds/{name}/thumbnail.jpg"}
                for name in thumbnails.names
            ],
            "formats": {"image": IMAGE_FORMATS, "clip": CLIP_FORMATS, "transparent": ALPHA_FORMATS},
            "presets": PRESETS,
            "max_upload_bytes": config.max_upload_bytes,
            "too_large": too_large_message(config.max_upload_bytes),
        }

    @app.get(
        "/api/backgrounds/{name}/thumbnail.jpg",
        summary="A bundled background's preview (JPEG)",
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}}, "description": "the preview"}},
    )
    async def thumbnail(name: str) -> Response:
        data = await run_in_threadpool(thumbnails.jpeg, name)
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400"})

    @app.post(
        "/api/remove",
        summary="Remove (or replace) the background of one picture, synchronously",
        description="One picture in as the form field file; PNG out: the person with alpha (transparent, "
        "the default background) or on the given background. Waits in the same queue as the jobs.",
        response_class=Response,
        openapi_extra=_form_schema(REMOVE_FIELDS, default_background="transparent"),
        responses={
            200: {"content": {"image/png": {}}, "description": "the result"},
            **_ERROR_RESPONSES,
        },
    )
    async def remove(request: Request) -> Response:
        job = await submit_job(request, REMOVE_FIELDS, default_background="transparent", images_only=True)
        while not job.ended.is_set():
            if await request.is_disconnected():
                queue.delete(job.id)
                return Response(status_code=499)
            await asyncio.sleep(_WAIT_STEP)
        if job.state != DONE:
            queue.delete(job.id)
            return _error(job.error_status, job.error or "the job did not finish")
        return FileResponse(
            job.result,
            media_type=job.media_type,
            filename=job.download_name,
            content_disposition_type="inline",
            background=BackgroundTask(queue.delete, job.id),
        )

    @app.post(
        "/api/jobs",
        status_code=202,
        summary="Start a job: a clip or a picture in, its id out",
        description="Returns at once with the job's id (and Location: /api/jobs/{id}); poll that for the "
        "progress, then fetch the result. Clips keep their frames, timestamps and audio as with "
        "livebg video.",
        openapi_extra=_form_schema(JOB_FIELDS, default_background="green"),
        responses={
            202: {"description": "queued: the job as GET /api/jobs/{id} shows it"},
            **_ERROR_RESPONSES,
        },
    )
    async def create_job(request: Request) -> JSONResponse:
        job = await submit_job(request, JOB_FIELDS, default_background="green", images_only=False)
        return JSONResponse(queue.describe(job), status_code=202, headers={"Location": f"/api/jobs/{job.id}"})

    @app.get(
        "/api/jobs/{job_id}",
        summary="A job's state, progress and error",
        responses={404: {"description": "no such job (deleted or expired)"}},
    )
    async def job_status(job_id: str) -> dict[str, Any]:
        """state: queued, running, done, failed or cancelled; progress in [0, 1] and eta_seconds while a
        clip runs; error: one sentence when it failed; result: where to fetch it when done."""
        return queue.describe(queue.get(job_id))

    @app.get(
        "/api/jobs/{job_id}/result",
        summary="A finished job's result (add ?download=1 to save it as a file)",
        response_class=Response,
        responses={
            200: {"content": {t: {} for t in sorted(set(MEDIA_TYPES.values()))}, "description": "the result"},
            404: {"description": "no such job"},
            409: {"description": "not finished yet, or failed"},
        },
    )
    async def job_result(job_id: str, download: bool = False) -> FileResponse:
        job = queue.get(job_id)
        if job.state != DONE:
            raise NotReady(job.error or f"the job is {job.state}; fetch the result when its state is done")
        return FileResponse(
            job.result,
            media_type=job.media_type,
            filename=job.download_name,
            content_disposition_type="attachment" if download else "inline",
        )

    @app.delete(
        "/api/jobs/{job_id}",
        status_code=204,
        summary="Cancel a job and delete its files",
        response_class=Response,
        responses={404: {"description": "no such job"}},
    )
    async def delete_job(job_id: str) -> Response:
        queue.delete(job_id)
        return Response(status_code=204)

    return app


def download_name(filename: str, suffix: str) -> str:
    """``photo-livebg.png`` for a client's ``photo.jpg``: letters, digits, ``-``, ``_`` and ``.`` of its
    stem only (it names the download, never a file on the server)."""
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    stem = re.sub(r"[^\w.-]+", "_", stem).strip("._")[:60] or "livebg"
    return f"{stem}-livebg{suffix}"


# ---------------------------------------------------------------------------------------------------
# Every request


def _add_guards(app: FastAPI, config: ServeConfig) -> None:
    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization"],
            expose_headers=["Location", "Content-Disposition"],
        )

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        try:
            response = _refuse(request, config) or await call_next(request)
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            response = _error(500, "the server failed on this request (an internal error); see its log")
        response.headers.update(SECURITY_HEADERS)
        return response


def _refuse(request: Request, config: ServeConfig) -> Response | None:
    """The answer to a request that may not pass (wrong host, missing token), or ``None``."""
    host = request.headers.get("host", "")
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if config.local_only and not is_loopback(name.strip("[]")):
        return _error(
            421, f"this server answers only to local addresses, not {host[:60]!r}; open {config.url}"
        )
    if config.token is None:
        return None
    given = request.query_params.get("token") if request.url.path == "/" else None
    if given is not None and secrets.compare_digest(given.encode(), config.token.encode()):
        # The page's own requests (pictures, videos, downloads) carry the token as a cookie from now on.
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, config.token, httponly=True, samesite="strict")
        return response
    auth = request.headers.get("authorization", "")
    supplied = auth[7:].strip() if auth.lower().startswith("bearer ") else request.cookies.get(COOKIE, "")
    if secrets.compare_digest(supplied.encode(), config.token.encode()):
        return None
    message = str(
        Unauthorized(
            "this server needs its access token: open the address livebg serve printed (it ends in "
            "/?token=...), or send the header Authorization: Bearer TOKEN"
        )
    )
    if "text/html" in request.headers.get("accept", ""):
        return HTMLResponse(f"<!doctype html><title>livebg</title><p>{message}</p>", status_code=401)
    return _error(401, message)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LivebgError)
    async def livebg_error(request: Request, exc: LivebgError) -> JSONResponse:
        return _error(getattr(exc, "http_status", 422), str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 404:
            message = f"there is nothing at {request.url.path[:80]}; the page is at / and the API at /docs"
        elif exc.status_code == 405:
            message = f"{request.method} is not accepted at {request.url.path[:80]}; see /docs"
        else:
            message = str(exc.detail)
        return _error(exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problem = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in problem.get("loc", ())[1:]) or "the request"
        return _error(422, f"{where}: {problem.get('msg', 'not accepted')}")

    @app.exception_handler(ClientDisconnect)
    async def disconnected(request: Request, exc: ClientDisconnect) -> Response:
        return Response(status_code=400)


# ---------------------------------------------------------------------------------------------------
# OpenAPI description of the forms (the body is parsed by livebg.serve.uploads, not by FastAPI)


_FIELD_HELP = {
    "file": "the picture (JPEG, PNG, WebP, BMP, TIFF) or, for jobs, the clip (MP4, MOV, WebM, MKV, AVI, GIF)",
    "background_file": "a picture or clip of your own to put behind the person (instead of background)",
    "output_type": "composite (default), alpha (the matte as grey) or foreground (the person's colours)",
    "format": "result container: png, webp, jpg for pictures (default png); mp4, webm, mov, mkv for clips "
    "(default mp4, mov when transparent)",
    "no_audio": "true to drop the clip's sound (default: kept, copied untouched)",
    "crf": "video quality 0-63, lower is better (default 17 for H.264, 18 for VP9)",
    "preset": "H.264 speed preset (default medium)",
    "model": "the model to use; only the one the server runs is accepted",
}


def _form_schema(fields: tuple[str, ...], *, default_background: str) -> dict[str, Any]:
    help_text = {
        **_FIELD_HELP,
        "background": "colour (green, #00b140, 0,177,64), blur or blur:1-100, transparent, none, or a "
        f"bundled background name (GET /api/backgrounds); default {default_background}",
    }
    properties: dict[str, Any] = {
        name: {"type": "string", "format": "binary", "description": help_text[name]}
        for name in ("file", "background_file")
    }
    properties.update({name: {"type": "string", "description": help_text[name]} for name in fields})
    schema = {"type": "object", "properties": properties, "required": ["file"]}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "the server's token is missing or wrong"},
    413: {"description": "the upload is over the size limit, or its pictures over the pixel limit"},
    415: {"description": "the upload is not a picture or clip that livebg reads"},
    422: {"description": "an option is not accepted, or the file could not be processed"},
    503: {"description": "the queue is full"},
    507: {"description": "the server's disk allowance is used up"},
}
