"""An operator's video-source spec (a folder, a video file, a camera index or a stream URL) and the source it names."""

from pathlib import Path

from vigil.edge.errors import SourceNotFound, UnknownSourceSpec
from vigil.edge.live_video import STREAM_SCHEMES, CameraSource, ReconnectPolicy, StreamSource
from vigil.edge.video import FolderSource, VideoFileSource, VideoSource


def open_source(
    spec: str,
    *,
    realtime: bool,
    folder_fps: float = 10.0,
    reconnect: ReconnectPolicy | None = None,
) -> VideoSource:
    """Choose and open the source an operator names.

    ``spec`` is tried in this order: an existing folder (:class:`FolderSource`), an existing file
    (:class:`VideoFileSource`), a string of digits (:class:`CameraSource`), an ``rtsp://``, ``http://`` or
    ``https://`` URL (:class:`StreamSource`).

    Args:
        spec: a folder, a video file, a camera index or a stream URL.
        realtime: for files and folders, deliver frames at their own pace as a camera would; cameras and
            streams always deliver frames as they arrive.
        folder_fps: frames per second of a folder of images.
        reconnect: the retry policy of cameras and streams; the defaults if None.

    Returns:
        The source, ready to iterate. Cameras and streams connect when iteration starts.

    Raises:
        SourceNotFound: ``spec`` looks like a path but nothing exists there.
        UnknownSourceSpec: ``spec`` is none of the accepted kinds.
        UnreadableSource: the file is not video, or the folder holds no images.
    """
    path = Path(spec)
    if spec and path.is_dir():
        return FolderSource(path, fps=folder_fps, realtime=realtime)
    if spec and path.is_file():
        return VideoFileSource(path, realtime=realtime)
    if spec.isascii() and spec.isdigit():
        return CameraSource(int(spec), reconnect=reconnect)
    if spec.startswith(STREAM_SCHEMES):
        return StreamSource(spec, reconnect=reconnect)
    accepted = (
        "give an existing video file or folder of images, a camera index (digits, e.g. 0) or an "
        "rtsp://, http:// or https:// stream URL"
    )
    if "://" not in spec and (path.suffix or "/" in spec):
        raise SourceNotFound(f"no such file or folder; {accepted}", source=spec)
    raise UnknownSourceSpec(f"not a video source Vigil reads; {accepted}", source=spec or "''")
