"""Watchlist commands: ``vigil watchlist …`` and ``vigil identify``."""

import getpass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel, Field
from rich.console import Console
from rich.table import Table

from vigil.cli.boundary import exits_on_vigil_error
from vigil.cli.faces import (
    DetectorKind,
    DetectorOption,
    FaceReport,
    JsonOption,
    ModelOption,
    face_report,
    vision_settings,
)
from vigil.cli.governance import watchlist_reembed
from vigil.edge.video_spec import open_source
from vigil.vision.detection import Box
from vigil.vision.face_model import DLIB_MODEL_ID
from vigil.vision.image import load_image
from vigil.vision.model_slot import read_manifest
from vigil.vision.settings import build_engine
from vigil.watchlist.enrolment import enrol_best_frames, enrol_photo
from vigil.watchlist.gallery import Gallery
from vigil.watchlist.identification import identify_faces
from vigil.watchlist.keys import (
    create_device_key,
    create_signing_key,
    load_device_key,
    load_signing_key,
    load_verify_key,
)
from vigil.watchlist.operating_point import OperatingTable, table_for, table_for_embedder, table_for_manifest
from vigil.watchlist.package import PackageHeader, export_package, open_package, read_header
from vigil.watchlist.store import WatchlistStore
from vigil.watchlist.subject import Subject, SubjectCategory, utc_now

WatchlistFile = Annotated[Path, typer.Argument(help="The watchlist file (SQLite).")]
SubjectId = Annotated[str, typer.Option("--id", help="The subject's id.")]


class SubjectRow(BaseModel):
    """A subject as ``vigil watchlist list`` shows it."""

    subject: Subject
    status: str = Field(description="live, awaiting approval or expired.")
    templates: int


class WatchlistListing(BaseModel):
    """What ``vigil watchlist list`` prints."""

    watchlist_id: str
    name: str
    version: int
    threshold: float = Field(description="The operating threshold now.")
    threshold_by_size: bool = Field(description="True when it follows the number of live subjects (not chosen).")
    subjects: list[SubjectRow]


class MatchReport(BaseModel):
    """The watchlist subject a face matched."""

    subject_id: str
    name: str
    category: SubjectCategory
    distance: float


class IdentifiedFace(FaceReport):
    """A face and its watchlist match (null: nobody, or not searched because of poor quality)."""

    searched: bool
    match: MatchReport | None


class IdentifyReport(BaseModel):
    """What ``vigil identify`` prints."""

    file: str
    watchlist_version: int
    threshold: float
    faces: list[IdentifiedFace]


class PackageSummary(BaseModel):
    """What ``vigil watchlist export`` and ``inspect`` print."""

    file: str
    header: PackageHeader
    subject_ids: list[str]


def create_watchlist_app() -> typer.Typer:
    """Build the ``vigil watchlist`` command group."""
    group = typer.Typer(help="Manage a local watchlist file and its device packages.", no_args_is_help=True)
    group.command("create")(exits_on_vigil_error(create))
    group.command("enrol")(exits_on_vigil_error(enrol))
    group.command("approve")(exits_on_vigil_error(approve))
    group.command("list")(exits_on_vigil_error(list_subjects))
    group.command("remove")(exits_on_vigil_error(remove))
    group.command("keys")(exits_on_vigil_error(keys))
    group.command("device-key")(exits_on_vigil_error(device_key))
    group.command("export")(exits_on_vigil_error(export))
    group.command("inspect")(exits_on_vigil_error(inspect))
    group.command("reembed")(exits_on_vigil_error(watchlist_reembed))  # a server watchlist, in its database
    return group


def register_watchlist_commands(app: typer.Typer) -> None:
    """Add ``identify`` and the ``watchlist`` group to the ``vigil`` app."""
    app.command("identify")(exits_on_vigil_error(identify))
    app.add_typer(create_watchlist_app(), name="watchlist")


def create(
    file: WatchlistFile,
    name: Annotated[str, typer.Option("--name", help="A name people recognise, e.g. the operation.")],
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            min=0.01,
            max=2.0,
            help="Operating distance threshold (default: by the watchlist's size, 1 false alert in 10,000 faces).",
        ),
    ] = None,
) -> None:
    """Create an empty watchlist file."""
    with WatchlistStore.create(file, name=name, threshold=threshold) as store:
        typer.echo(f"created watchlist {store.name!r} ({store.watchlist_id}) in {file}", err=True)


def _expiry(text: str) -> datetime:
    """A date means the end of that day, UTC; a date-time without a zone is taken as UTC."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            raise typer.BadParameter(f"{text!r} is not a date (2027-01-31) or date-time") from exc
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def _box(text: str | None) -> Box | None:
    if text is None:
        return None
    try:
        left, top, right, bottom = (float(v) for v in text.split(","))
        return Box(left, top, right, bottom)
    except ValueError as exc:
        raise typer.BadParameter(f"--box takes left,top,right,bottom in pixels, got {text!r} ({exc})") from exc


def enrol(
    file: WatchlistFile,
    subject_id: SubjectId,
    name: Annotated[str, typer.Option("--name", help="Name shown to officers.")],
    category: Annotated[SubjectCategory, typer.Option("--category", help="Why the person is on the watchlist.")],
    legal_basis: Annotated[str, typer.Option("--legal-basis", help="The power or order relied on (reference).")],
    expires: Annotated[str, typer.Option("--expires", help="Last day of the entry (2027-01-31), or a date-time.")],
    notes: Annotated[str, typer.Option("--notes", help="Notes for officers: risks, how to approach.")] = "",
    proposed_by: Annotated[
        str | None, typer.Option("--proposed-by", help="Who proposes the entry (default: your login name).")
    ] = None,
    box: Annotated[
        str | None, typer.Option("--box", help="left,top,right,bottom of the subject's face, for group photos.")
    ] = None,
    photos: Annotated[
        list[Path] | None, typer.Argument(help="Photos of the subject; each must show one good face.", exists=True)
    ] = None,
    video: Annotated[
        Path | None,
        typer.Option("--video", help="A video of the subject: its best frames are enrolled.", exists=True),
    ] = None,
    video_templates: Annotated[
        int, typer.Option("--video-templates", min=1, max=20, help="Frames enrolled from --video.")
    ] = 3,
    detector: DetectorOption = DetectorKind.HOG,
    model: ModelOption = None,
) -> None:
    """Propose a subject from photos or a video; each template must be one good face. A second person approves it."""
    if not photos and video is None:
        raise typer.BadParameter("give photos of the subject, or --video")
    engine = build_engine(vision_settings(detector=detector, upsample=1, model=model))
    chosen_box = _box(box)
    templates = [
        enrol_photo(engine, load_image(photo), subject_id=subject_id, source=str(photo), box=chosen_box)
        for photo in photos or []
    ]
    if video is not None:
        with open_source(str(video), realtime=False) as source:
            enrolled = enrol_best_frames(
                engine,
                ((frame.index, frame.image) for frame in source),
                subject_id=subject_id,
                source=str(video),
                box=chosen_box,
                count=video_templates,
            )
        templates += [face.template for face in enrolled]
    subject = Subject(
        subject_id=subject_id,
        display_name=name,
        category=category,
        legal_basis=legal_basis,
        expires_at=_expiry(expires),
        notes=notes,
        proposed_by=proposed_by or getpass.getuser(),
        proposed_at=utc_now(),
    )
    with WatchlistStore.open(file) as store:
        store.add(subject, templates)
        typer.echo(
            f"proposed {subject_id} with {len(templates)} template(s); it goes live once a second person approves it",
            err=True,
        )


def approve(
    file: WatchlistFile,
    subject_id: SubjectId,
    by: Annotated[str, typer.Option("--by", help="The approver: not the person who proposed the entry.")],
) -> None:
    """Approve a proposed subject so that it goes live."""
    with WatchlistStore.open(file) as store:
        subject = store.approve(subject_id, approver=by)
        typer.echo(
            f"{subject.subject_id} approved by {subject.approved_by}; watchlist version {store.version}", err=True
        )


def list_subjects(file: WatchlistFile, model: ModelOption = None, json_output: JsonOption = False) -> None:
    """List every subject with its status (live, awaiting approval, expired)."""
    operating_table = _operating_table(model)
    now = utc_now()
    with WatchlistStore.open(file) as store:
        counts = store.template_counts()
        listing = WatchlistListing(
            watchlist_id=store.watchlist_id,
            name=store.name,
            version=store.version,
            threshold=store.operating_threshold(operating_table),
            threshold_by_size=store.chosen_threshold is None,
            subjects=[
                SubjectRow(subject=s, status=s.status(now), templates=counts.get(s.subject_id, 0))
                for s in store.subjects()
            ],
        )
    if json_output:
        typer.echo(listing.model_dump_json(indent=2))
        return
    chosen = "by size" if listing.threshold_by_size else "chosen"
    table = Table(title=f"{listing.name}: version {listing.version}, threshold {listing.threshold:.3f} ({chosen})")
    for column in ("id", "name", "category", "status", "expires (UTC)", "templates", "proposed by", "approved by"):
        table.add_column(column)
    for row in listing.subjects:
        s = row.subject
        table.add_row(
            s.subject_id,
            s.display_name,
            s.category.value,
            row.status,
            s.expires_at.strftime("%Y-%m-%d %H:%M"),
            str(row.templates),
            s.proposed_by,
            s.approved_by or "-",
        )
    Console().print(table)


def remove(file: WatchlistFile, subject_id: SubjectId) -> None:
    """Remove a subject and all its templates."""
    with WatchlistStore.open(file) as store:
        store.remove(subject_id)
        typer.echo(f"removed {subject_id}; watchlist version {store.version}", err=True)


def keys(
    signing_key: Annotated[Path, typer.Option("--signing-key", help="Where to write the private signing key.")],
    verify_key: Annotated[Path, typer.Option("--verify-key", help="Where to write the public key for devices.")],
) -> None:
    """Create the command centre's Ed25519 key pair for signing packages."""
    create_signing_key(signing_key, verify_key)
    typer.echo(f"signing key in {signing_key} (keep it secret); give devices {verify_key}", err=True)


def device_key(path: Annotated[Path, typer.Argument(help="Where to write the device's key.")]) -> None:
    """Create a device's AES-256 key (install the same file on the device)."""
    create_device_key(path)
    typer.echo(f"device key in {path}", err=True)


def export(
    file: WatchlistFile,
    out: Annotated[Path, typer.Option("--out", help="The package file to write.")],
    device_id: Annotated[str, typer.Option("--device-id", help="The device the package is for.")],
    device_key_file: Annotated[Path, typer.Option("--device-key", help="That device's key file.")],
    signing_key: Annotated[Path, typer.Option("--signing-key", help="The command centre's signing key.")],
    valid_days: Annotated[float, typer.Option("--valid-days", min=0.01, max=90, help="Days devices may use it.")] = 7,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Export the live subjects as a signed package encrypted for one device. Expired entries are left out."""
    operating_table = _operating_table(model)
    now = utc_now()
    with WatchlistStore.open(file) as store:
        data = export_package(
            store.live_entries(now),
            watchlist_id=store.watchlist_id,
            name=store.name,
            version=store.version,
            threshold=store.operating_threshold(operating_table),
            model=store.model or operating_table.model_id,  # a watchlist with no template yet: the network named
            device_id=device_id,
            device_key=load_device_key(device_key_file),
            signing_key=load_signing_key(signing_key),
            now=now,
            valid_for=timedelta(days=valid_days),
        )
        subject_ids = [entry.subject.subject_id for entry in store.live_entries(now)]
    temporary = out.with_name(out.name + ".part")
    temporary.write_bytes(data)
    temporary.replace(out)
    _print_package(PackageSummary(file=str(out), header=read_header(data), subject_ids=subject_ids), json_output)


def inspect(
    package: Annotated[Path, typer.Argument(help="A package file.", exists=True, dir_okay=False)],
    verify_key: Annotated[Path, typer.Option("--verify-key", help="The command centre's public key.")],
    device_key_file: Annotated[Path, typer.Option("--device-key", help="This device's key file.")],
    json_output: JsonOption = False,
) -> None:
    """Verify and decrypt a package as a device would, and list what it holds."""
    opened = open_package(
        package.read_bytes(),
        verify_key=load_verify_key(verify_key),
        device_key=load_device_key(device_key_file),
        now=utc_now(),
    )
    summary = PackageSummary(
        file=str(package), header=opened.header, subject_ids=[e.subject.subject_id for e in opened.entries]
    )
    _print_package(summary, json_output)


def _print_package(summary: PackageSummary, json_output: bool) -> None:
    if json_output:
        typer.echo(summary.model_dump_json(indent=2))
        return
    header = summary.header
    Console().print(
        f"{summary.file}: watchlist {header.name!r} version {header.version} for device {header.device_id}, "
        f"{header.subjects} subject(s), valid until {header.valid_until:%Y-%m-%d %H:%M} UTC: "
        + ", ".join(summary.subject_ids)
    )


def identify(
    image: Annotated[Path, typer.Argument(help="A photo.", exists=True, dir_okay=False)],
    watchlist: Annotated[Path, typer.Option("--watchlist", help="The watchlist file.")],
    detector: DetectorOption = DetectorKind.HOG,
    model: ModelOption = None,
    json_output: JsonOption = False,
) -> None:
    """Every face in a photo with its box, quality and watchlist match (or none)."""
    engine = build_engine(vision_settings(detector=detector, upsample=1, model=model))
    with WatchlistStore.open(watchlist) as store:
        gallery = Gallery(
            store.live_entries(),
            threshold=store.operating_threshold(table_for_embedder(engine.embedder)),
            model=engine.embedder.model.model_id,
        )
        version = store.version
    faces = []
    for found in identify_faces(engine, gallery, load_image(image)):
        match = None
        if found.match is not None:
            match = MatchReport(
                subject_id=found.match.subject.subject_id,
                name=found.match.subject.display_name,
                category=found.match.subject.category,
                distance=found.match.distance,
            )
        faces.append(IdentifiedFace(**face_report(found.face).model_dump(), searched=found.searched, match=match))
    report = IdentifyReport(file=str(image), watchlist_version=version, threshold=gallery.threshold, faces=faces)
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
        return
    table = Table(title=f"{image.name} against watchlist version {version} (threshold {gallery.threshold:.3f})")
    for column in ("face", "box (l, t, r, b)", "quality", "match", "distance"):
        table.add_column(column)
    for number, face in enumerate(report.faces, start=1):
        box = face.box
        if face.match is not None:
            who, distance = f"[bold red]{face.match.name}[/bold red] ({face.match.category.value})", face.match.distance
        else:
            who, distance = ("nobody on the watchlist" if face.searched else "not searched: poor quality"), None
        table.add_row(
            str(number),
            f"{box.left:.0f}, {box.top:.0f}, {box.right:.0f}, {box.bottom:.0f}",
            f"{face.quality.score:.2f}",
            who,
            "" if distance is None else f"{distance:.3f}",
        )
    Console().print(table)


def _operating_table(model: Path | None) -> OperatingTable:
    """The operating table of the network a manifest (--model) describes; dlib's ResNet's without one."""
    return table_for(DLIB_MODEL_ID) if model is None else table_for_manifest(read_manifest(model))
