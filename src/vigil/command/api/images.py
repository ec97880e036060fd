"""How the API serves a face image (a camera's crop, an enrolled chip): biometric data, never cached or sniffed.

``X-Content-Type-Options: nosniff`` holds a browser to ``image/jpeg``: whatever bytes a stored image holds, it is
never run as a page or a script. Ingestion checks each crop is one whole JPEG besides
(:func:`vigil.vision.image.verify_jpeg`).
"""

from fastapi import Response

IMAGE_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def jpeg_response(image: bytes) -> Response:
    """A JPEG face image as the answer: typed, never cached, never sniffed."""
    return Response(image, media_type="image/jpeg", headers=IMAGE_HEADERS)
