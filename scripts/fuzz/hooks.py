"""Schemathesis hooks of the project's fuzz (scripts/fuzz/schemathesis.ts loads this module).

One check of our own: every answer of the API is the envelope of docs/api.md,
{"success": true, "data": ...} or {"success": false, "error": {"code": str, "message": str}},
with a JSON content type; a refusal (4xx/5xx) is always the error form and a success never is.
"""

import json

import schemathesis


@schemathesis.check
def envelope(ctx, response, case):
    content_type = response.headers.get("content-type", [""])
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else ""
    if "application/json" not in content_type:
        raise AssertionError(
            f"not a JSON envelope: {response.status_code} with content-type {content_type!r}"
        )
    try:
        body = json.loads(response.content or b"")
    except ValueError as error:
        raise AssertionError(f"not a JSON envelope: {response.status_code}, body is not JSON ({error})")
    if not isinstance(body, dict):
        raise AssertionError(f"not a JSON envelope: {response.status_code}, body is {type(body).__name__}")
    if response.status_code >= 400:
        error = body.get("error")
        if (
            set(body) != {"success", "error"}
            or body.get("success") is not False
            or not isinstance(error, dict)
            or set(error) != {"code", "message"}
            or not isinstance(error.get("code"), str)
            or not isinstance(error.get("message"), str)
        ):
            raise AssertionError(
                f"not the error envelope: {response.status_code} {json.dumps(body)[:300]}"
            )
    elif set(body) != {"success", "data"} or body.get("success") is not True:
        raise AssertionError(f"not the success envelope: {response.status_code} {json.dumps(body)[:300]}")
