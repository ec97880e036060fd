"""Request bodies, read within a byte limit."""

from fastapi import Request

from vigil.command.errors import BodyTooLarge


async def read_body(request: Request, *, limit_bytes: int) -> bytes:
    """The request body, refused as soon as it is known to pass ``limit_bytes``.

    Raises:
        BodyTooLarge: the declared length or the bytes received pass the limit (413).
    """
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit_bytes:
        raise BodyTooLarge(limit_bytes=limit_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit_bytes:
            raise BodyTooLarge(limit_bytes=limit_bytes)
        chunks.append(chunk)
    return b"".join(chunks)
