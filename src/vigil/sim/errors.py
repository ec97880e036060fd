"""Errors of the simulation.

Hierarchy::

    VigilError
    └── SimError
        ├── InvalidSimSettings      a simulation setting out of its range, or settings that contradict each other
        ├── StreetMapError          a street map that cannot be routed on
        │   ├── InvalidStreetMap    streets naming unknown points, crossing without a junction, or not joined up
        │   └── OffTheStreets       a point too far from every street the traveller may use
        ├── FootageError            test video cannot be made
        │   ├── UnknownPerson       a scene names a person the test photos do not show
        │   └── FootageWriteFailed  the video file cannot be written
        ├── DemoPhotosError         the demo's photos cannot be found, fetched or used
        │   ├── DemoPhotosMissing   neither --photos nor the fetched face_recognition photos are there
        │   ├── PhotoFetchFailed    pip could not download the face_recognition source distribution
        │   └── UnusablePhotos      a folder or archive that does not hold photos as the demo needs them
        ├── LoadError               ``vigil sim load`` cannot run
        │   ├── DeviceTokensUnusable  a saved device-token file cannot be read or holds too few devices
        │   └── ServerUnreachable   the command centre (or its broker) does not answer
        └── DemoError               ``vigil demo`` cannot run
            ├── DemoPortInUse       the command centre's port is taken
            ├── DemoDatabaseNotEmpty  a given database already holds the demo's users or devices
            └── DemoStepRefused     the command centre refused a step of the demo's set-up or its operator
"""

from pathlib import Path

from vigil.errors import VigilError


class SimError(VigilError):
    """Base class of every simulation error."""


class InvalidSimSettings(SimError):
    """A simulation setting is out of its range, or settings contradict each other."""


class StreetMapError(SimError):
    """A street map cannot be routed on."""


class InvalidStreetMap(StreetMapError):
    """The streets name unknown points, cross without a junction, or do not form one network."""


class OffTheStreets(StreetMapError):
    """A point is farther from every street the traveller may use than the map allows.

    Attributes:
        point: the (lat, lon) point, degrees.
        distance_m: its distance to the nearest usable street, metres.
    """

    def __init__(self, message: str, *, point: tuple[float, float], distance_m: float) -> None:
        super().__init__(message)
        self.point = point
        self.distance_m = distance_m


class FootageError(SimError):
    """Test video cannot be made."""


class UnknownPerson(FootageError):
    """A scene names a person with no photos in the test data.

    Attributes:
        person_id: the name asked for.
    """

    def __init__(self, message: str, *, person_id: str) -> None:
        super().__init__(message)
        self.person_id = person_id


class FootageWriteFailed(FootageError):
    """OpenCV cannot write the video file.

    Attributes:
        path: the file that was to be written.
    """

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class DemoPhotosError(SimError):
    """The demo's photos cannot be found, fetched or used."""


class DemoPhotosMissing(DemoPhotosError):
    """Neither a photo folder was given nor have the face_recognition photos been fetched into the data folder."""


class PhotoFetchFailed(DemoPhotosError):
    """``pip download`` of the face_recognition source distribution failed."""


class UnusablePhotos(DemoPhotosError):
    """A folder or archive does not hold photos the way the demo needs them.

    Attributes:
        path: the folder or archive.
    """

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class LoadError(SimError):
    """``vigil sim load`` cannot run."""


class DeviceTokensUnusable(LoadError):
    """A saved device-token file cannot be read, or holds fewer devices than asked for.

    Attributes:
        path: the file.
    """

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class ServerUnreachable(LoadError):
    """The command centre or its broker does not answer."""


class DemoError(SimError):
    """``vigil demo`` cannot run."""


class DemoPortInUse(DemoError):
    """The port the demo's command centre is to listen on is taken.

    Attributes:
        port: the port.
    """

    def __init__(self, message: str, *, port: int) -> None:
        super().__init__(message)
        self.port = port


class DemoDatabaseNotEmpty(DemoError):
    """The database given with ``--db`` already holds the demo's users or devices (from an earlier run)."""


class DemoStepRefused(DemoError):
    """The command centre answered a step of the demo (sign-in, watchlist, review, dispatch) with an error.

    Attributes:
        step: what the demo was doing.
        status_code: the HTTP status.
    """

    def __init__(self, message: str, *, step: str, status_code: int) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step
        self.status_code = status_code
