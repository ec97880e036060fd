"""Video sources: real files written with OpenCV, real folders of photos, a real MJPEG server over HTTP."""

import itertools
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from tests.support.mosquitto import free_port
from vigil.edge.errors import (
    SourceNotFound,
    SourceUnavailable,
    UnknownSourceSpec,
    UnreadableSource,
    VideoSourceError,
)
from vigil.edge.live_video import CameraSource, ReconnectPolicy, StreamSource
from vigil.edge.video import FolderSource, Frame, VideoFileSource
from vigil.edge.video_spec import open_source
from vigil.sim.footage import Actor, Footage, Walk
from vigil.vision.detection import Box
from vigil.vision.image import encode_jpeg, fit_within, load_image

FPS = 20.0
CLIP_FRAMES = 24
FAST_RETRY = ReconnectPolicy(first_delay_s=0.02, factor=2.0, max_delay_s=0.1, max_retries=2)


@pytest.fixture(scope="module")
def footage(testdata: Path) -> Footage:
    """A short clip: one face crossing a background of saturated red, green and blue bands."""
    background = np.zeros((180, 320, 3), dtype=np.uint8)
    background[:60, :, 0] = 220
    background[60:120, :, 1] = 220
    background[120:, :, 2] = 220
    walk = Walk("obama", 4, 20, (100.0, 90.0), (220.0, 90.0), 30.0, 60.0)
    actor = Actor("obama", testdata / "faces" / "obama.jpg", face_box=Box(357, 144, 634, 421))
    return Footage(actors=[actor], walks=[walk], background=background, fps=FPS, frame_count=CLIP_FRAMES)


@pytest.fixture(scope="module")
def clip(footage: Footage, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return footage.write_mp4(tmp_path_factory.mktemp("video") / "clip.mp4")


# --- frames and policies -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "image", "message"),
    [
        (-1, np.zeros((4, 4, 3), np.uint8), "index"),
        (0, np.zeros((4, 4, 3), np.float32), "uint8"),
        (0, np.zeros((4, 4), np.uint8), "uint8"),
        (0, np.zeros((4, 4, 4), np.uint8), "uint8"),
        (0, np.zeros((4, 8, 3), np.uint8)[:, ::2], "C-contiguous"),
    ],
)
def test_frame_refuses_what_is_not_an_rgb_image(index: int, image: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Frame(index=index, timestamp_s=0.0, image=image)


@pytest.mark.parametrize(("retry", "delay_s"), [(0, 0.5), (1, 1.0), (2, 2.0), (3, 3.0), (20, 3.0)])
def test_back_off_doubles_up_to_the_cap(retry: int, delay_s: float) -> None:
    policy = ReconnectPolicy(first_delay_s=0.5, factor=2.0, max_delay_s=3.0)
    assert policy.delay_s(retry) == pytest.approx(delay_s)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"first_delay_s": -1.0}, "first_delay_s"),
        ({"factor": 0.5}, "factor"),
        ({"first_delay_s": 5.0, "max_delay_s": 1.0}, "max_delay_s"),
        ({"max_retries": -1}, "max_retries"),
    ],
)
def test_reconnect_policy_refuses_nonsense(arguments: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReconnectPolicy(**arguments)  # type: ignore[arg-type]


# --- folders ---------------------------------------------------------------------------------------------------


@pytest.fixture
def photo_folder(testdata: Path, tmp_path: Path) -> Path:
    """Five small JPEGs of real photos; the third is cut short, and a text file sits among them."""
    folder = tmp_path / "frames"
    folder.mkdir()
    names = ["obama.jpg", "biden.jpg", "obama2.jpg", "obama3.jpg", "two_people.jpg"]
    for number, name in enumerate(names):
        small, _ = fit_within(load_image(testdata / "faces" / name), 160)
        data = encode_jpeg(small)
        (folder / f"{number:02d}.jpg").write_bytes(data[: len(data) // 2] if number == 2 else data)
    (folder / "notes.txt").write_text("not a frame")
    return folder


def test_folder_skips_and_counts_a_corrupt_image_and_keeps_the_order(photo_folder: Path) -> None:
    with FolderSource(photo_folder, fps=4.0) as source:
        frames = list(source)
    assert [frame.index for frame in frames] == [0, 1, 3, 4]
    assert [frame.timestamp_s for frame in frames] == [0.0, 0.25, 0.75, 1.0]
    for frame in frames:
        assert np.array_equal(frame.image, load_image(photo_folder / f"{frame.index:02d}.jpg"))
    assert (source.stats.frames_read, source.stats.frames_corrupt, source.stats.reconnects) == (4, 1, 0)


def test_folder_in_realtime_is_paced_at_its_fps(photo_folder: Path) -> None:
    started = time.monotonic()
    with FolderSource(photo_folder, fps=10.0, realtime=True) as source:
        frames = list(source)
    # Frame 4 is due 0.4 s after frame 0; allow for a coarse clock, never assert an upper bound.
    assert time.monotonic() - started >= 0.3
    assert len(frames) == 4


@pytest.mark.parametrize("content", [[], ["readme.txt"]], ids=["empty", "no-images"])
def test_folder_without_images_is_refused(tmp_path: Path, content: list[str]) -> None:
    for name in content:
        (tmp_path / name).write_text("x")
    with pytest.raises(UnreadableSource, match=r"no images \(files ending in \.jpeg, \.jpg"):
        FolderSource(tmp_path)


# --- video files -----------------------------------------------------------------------------------------------


def test_video_file_delivers_every_frame_in_rgb_with_media_time(clip: Path, footage: Footage) -> None:
    with VideoFileSource(clip) as source:
        frames = list(source)
    assert [frame.index for frame in frames] == list(range(CLIP_FRAMES))
    assert [frame.timestamp_s for frame in frames] == pytest.approx([i / FPS for i in range(CLIP_FRAMES)])
    for frame in frames:
        # mp4v is lossy; a channel swap (BGR) would differ by about 150 on the saturated bands.
        difference = np.abs(frame.image.astype(int) - footage.render(frame.index).astype(int))
        assert frame.image.shape == (180, 320, 3)
        assert difference.mean() < 6
    assert source.stats.frames_read == CLIP_FRAMES
    assert source.stats.frames_corrupt == 0


def test_video_file_in_realtime_takes_at_least_its_duration(clip: Path) -> None:
    started = time.monotonic()
    with VideoFileSource(clip, realtime=True) as source:
        count = sum(1 for _ in source)
    assert count == CLIP_FRAMES
    # The last frame is due (24 - 1) / 20 = 1.15 s after the first; only a loose lower bound.
    assert time.monotonic() - started >= 1.0


def test_closing_a_video_file_ends_the_iteration(clip: Path) -> None:
    source = VideoFileSource(clip)
    seen = []
    for frame in source:
        seen.append(frame.index)
        if len(seen) == 5:
            source.close()
    assert seen == [0, 1, 2, 3, 4]
    assert source.stats.frames_read == 5


def test_a_file_that_is_not_video_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "clip.mp4"
    fake.write_text("this is not a video")
    with pytest.raises(UnreadableSource, match="cannot decode this file as video"):
        VideoFileSource(fake)


# --- cameras and streams ------------------------------------------------------------------------------------------


def _jpeg(rgb: tuple[int, int, int]) -> bytes:
    return encode_jpeg(np.full((96, 128, 3), rgb, dtype=np.uint8))


GARBAGE = b"\xff\xd8\xff\xe0" + b"not a jpeg at all " * 20


class MjpegCamera:
    """An IP camera serving MJPEG over HTTP: each connection plays the next scripted list of JPEG parts."""

    def __init__(self, connections: list[list[bytes]]) -> None:
        self.connections = connections
        script = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if not script.connections:
                    self.send_error(404)
                    return
                parts = script.connections.pop(0)
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    for part in parts:
                        head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(part)}\r\n\r\n"
                        self.wfile.write(head.encode() + part + b"\r\n")
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/video.mjpg"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def camera() -> Iterator[MjpegCamera]:
    red, green, blue, grey = _jpeg((220, 20, 20)), _jpeg((20, 220, 20)), _jpeg((20, 20, 220)), _jpeg((128,) * 3)
    served = MjpegCamera([[red, green, GARBAGE, blue], [grey, red, green]])
    yield served
    served.stop()


def test_stream_skips_corrupt_frames_reconnects_once_then_gives_up(camera: MjpegCamera) -> None:
    frames: list[Frame] = []
    with (
        StreamSource(camera.url, reconnect=FAST_RETRY) as source,
        pytest.raises(SourceUnavailable, match="connection was lost and it cannot be opened after 3 tries") as error,
    ):
        frames.extend(source)
    assert [frame.index for frame in frames] == [0, 1, 3, 4, 5, 6]
    dominant = [int(np.argmax(frame.image.reshape(-1, 3).mean(axis=0))) for frame in frames]
    assert [dominant[i] for i in (0, 1, 2, 4, 5)] == [0, 1, 2, 0, 1]  # red, green, blue: RGB order
    assert np.ptp(frames[3].image.reshape(-1, 3).mean(axis=0)) < 10  # the grey frame
    assert all(later.timestamp_s >= earlier.timestamp_s for earlier, later in itertools.pairwise(frames))
    assert (source.stats.frames_read, source.stats.frames_corrupt, source.stats.reconnects) == (6, 1, 1)
    assert error.value.attempts == 3


def test_unreachable_stream_gives_up_after_the_configured_retries() -> None:
    address = f"127.0.0.1:{free_port()}/live"  # nothing listens there
    policy = ReconnectPolicy(first_delay_s=0.05, factor=2.0, max_delay_s=1.0, max_retries=3)
    started = time.monotonic()
    with (
        StreamSource(f"rtsp://officer:s3cret@{address}", reconnect=policy) as source,
        pytest.raises(SourceUnavailable) as error,
    ):
        list(source)
    assert error.value.attempts == 4
    assert str(error.value).startswith(f"rtsp://***@{address}: it cannot be opened after 4 tries")
    assert "s3cret" not in str(error.value)
    assert time.monotonic() - started >= 0.3  # back-off of 0.05 + 0.1 + 0.2 s
    assert source.stats.reconnects == 0


def test_missing_camera_gives_up_after_the_configured_retries() -> None:
    with CameraSource(97, reconnect=FAST_RETRY) as source, pytest.raises(SourceUnavailable, match="camera 97") as error:
        list(source)
    assert error.value.attempts == 3


def test_close_interrupts_the_back_off() -> None:
    source = StreamSource(f"rtsp://127.0.0.1:{free_port()}/live", reconnect=ReconnectPolicy(first_delay_s=30.0))
    frames: list[Frame] = []
    reader = threading.Thread(target=lambda: frames.extend(source))
    reader.start()
    time.sleep(0.2)
    source.close()
    reader.join(10)
    assert not reader.is_alive()
    assert frames == []


# --- choosing a source ---------------------------------------------------------------------------------------------


def _spec(kind: str, tmp_path: Path, clip: Path, testdata: Path) -> str:
    match kind:
        case "folder":
            shutil.copy(testdata / "faces" / "obama_small.jpg", tmp_path / "0001.jpg")
            return str(tmp_path)
        case "video":
            return str(clip)
        case "text-file":
            (tmp_path / "notes.mp4").write_text("not video")
            return str(tmp_path / "notes.mp4")
        case "empty-folder":
            return str(tmp_path)
        case "missing-file":
            return str(tmp_path / "nowhere" / "clip.mp4")
    return kind


@pytest.mark.parametrize(
    ("kind", "expected", "message"),
    [
        ("folder", FolderSource, ""),
        ("video", VideoFileSource, ""),
        ("0", CameraSource, ""),
        ("12", CameraSource, ""),
        ("rtsp://camera.local:554/stream1", StreamSource, ""),
        ("http://camera.local/video.mjpg", StreamSource, ""),
        ("https://camera.local/video.mjpg", StreamSource, ""),
        ("text-file", UnreadableSource, "cannot decode this file as video"),
        ("empty-folder", UnreadableSource, "no images"),
        ("missing-file", SourceNotFound, "no such file or folder; give an existing video file"),
        ("clip.mp4", SourceNotFound, "no such file or folder; give an existing video file"),
        ("", UnknownSourceSpec, "camera index"),
        ("-1", UnknownSourceSpec, "camera index"),
        ("webcam", UnknownSourceSpec, "camera index"),
        ("ftp://camera.local/video.mp4", UnknownSourceSpec, "rtsp://, http:// or https://"),
        ("٣", UnknownSourceSpec, "camera index"),  # a digit, but not an ASCII one
    ],
)
def test_open_source_chooses_by_the_spec(
    kind: str,
    expected: type,
    message: str,
    tmp_path: Path,
    clip: Path,
    testdata: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # relative specs resolve in an empty folder
    spec = _spec(kind, tmp_path, clip, testdata)
    if issubclass(expected, VideoSourceError):
        with pytest.raises(expected, match=message):
            open_source(spec, realtime=False)
    else:
        with open_source(spec, realtime=False) as source:
            assert type(source) is expected
