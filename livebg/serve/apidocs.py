"""``/docs``: the OpenAPI description rendered as one plain HTML page on the server.

FastAPI's own docs page loads Swagger UI's scripts from a CDN, which this server never does (it must work
offline, and its pages allow scripts from itself only); ``/openapi.json`` serves the same description to
any OpenAPI tool.
"""

from __future__ import annotations

import html
import json
from typing import Any

_METHODS = ("get", "post", "delete", "put", "patch")


def render(spec: dict[str, Any]) -> str:
    """The page for an OpenAPI 3 ``spec``: per operation its method, path, summary, description, form
    fields and responses."""
    info = spec.get("info", {})
    sections = []
    for path, item in spec.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if operation is not None:
                sections.append(_operation(method, path, operation))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(info.get('title', 'API'))} API</title>"
        "<link rel='icon' href='/static/favicon.svg' type='image/svg+xml'>"
        "<link rel='stylesheet' href='/static/style.css'></head>"
        "<body class='docs'><main>"
        f"<h1>{_e(info.get('title', 'API'))} HTTP API <small>{_e(info.get('version', ''))}</small></h1>"
        f"<p>{_e(info.get('description', ''))}</p>"
        "<p>Machine-readable: <a href='/openapi.json'>/openapi.json</a> (OpenAPI "
        f"{_e(spec.get('openapi', '3'))}). The web page: <a href='/'>/</a>.</p>"
        + "".join(sections)
        + "</main></body></html>"
    )


def _operation(method: str, path: str, operation: dict[str, Any]) -> str:
    parts = [
        f"<section class='op'><h2><span class='method {method}'>{method.upper()}</span> "
        f"<code>{_e(path)}</code></h2>",
        f"<p><strong>{_e(operation.get('summary', ''))}</strong></p>",
    ]
    if operation.get("description"):
        parts.append(f"<p>{_e(operation['description'])}</p>")
    form = (
        operation.get("requestBody", {}).get("content", {}).get("multipart/form-data", {}).get("schema", {})
    )
    fields = form.get("properties", {})
    if fields:
        required = set(form.get("required", []))
        rows = "".join(
            f"<tr><td><code>{_e(name)}</code>{' (required)' if name in required else ''}</td>"
            f"<td>{_e(field.get('description', ''))}</td></tr>"
            for name, field in fields.items()
        )
        parts.append(f"<table><tr><th>form field</th><th>meaning</th></tr>{rows}</table>")
    responses = operation.get("responses", {})
    if responses:
        rows = "".join(
            f"<tr><td><code>{_e(code)}</code></td><td>{_e(r.get('description', ''))}</td></tr>"
            for code, r in responses.items()
        )
        parts.append(f"<table><tr><th>status</th><th>meaning</th></tr>{rows}</table>")
    return "".join(parts) + "</section>"


def _e(value: Any) -> str:
    return html.escape(value if isinstance(value, str) else json.dumps(value))
