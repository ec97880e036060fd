"""The edge agent: the body camera's process, from video in to alerts out and orders in.

:class:`EdgeAgent` wires the parts: the video source feeds the recognition pipeline through a drop-oldest
buffer; alerts become ``alert.raised`` events with the officer's position and the matched crop, shown on the
device's notifiers at once and stored in the outbox; a position goes out every few seconds and a device status
every minute; the uplink sends the outbox and the downlink takes acks, reviews, orders and new watchlists.
The officer's emergency (:meth:`EdgeAgent.raise_emergency`) is stored like any event, and while it is open the
position goes out every second, so that control can follow an officer in trouble. The officer's verdict on a
subject order's match (:meth:`EdgeAgent.verify`) is stored and sent like an answer to the order.

A watchlist announced under a deployment (:mod:`vigil.edge.deployment`) is searched only inside the deployment's
area and window: elsewhere the camera does not search, and the handset says why. Its alerts carry the
deployment's id; in a silent trial they go to control only, and the officer is shown nothing of them. When
control stops the deployment (``deployment.stopped``), its watchlist is dropped and, if control says so, its alerts
still waiting in the outbox are deleted and their cards taken off the handset.
"""

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel, Field

from vigil.bus.protocol import Bus
from vigil.edge.active_watchlist import ActiveWatchlist
from vigil.edge.battery import Battery
from vigil.edge.deployment import HeldScope, SearchPause, stopped_pause
from vigil.edge.device_health import DeviceHealth, LinkState, WatchlistHealth
from vigil.edge.downlink import Downlink
from vigil.edge.emergency import DeviceEmergency, EmergencyStatus
from vigil.edge.event_log import EventLog
from vigil.edge.notifier import AlertCard, DeploymentNotifier, Notifier
from vigil.edge.orders import OrderBook, VerdictNotifier, Verifications
from vigil.edge.outbox import Outbox
from vigil.edge.pacing import feed_every_frame, feed_live
from vigil.edge.position import PositionFix, PositionSource
from vigil.edge.recognition import RecognitionPipeline, RecognitionSettings, TrackAlert
from vigil.edge.uplink import Uplink
from vigil.edge.video import VideoSource
from vigil.edge.watchlist_update import WatchlistUpdater
from vigil.events import (
    MAX_ACCURACY_M,
    MAX_SPEED_MPS,
    TOPIC_ROOT,
    Ack,
    AlertEvidence,
    AlertRaised,
    AlertVerified,
    DeploymentStopped,
    DeviceStatus,
    DispatchState,
    DispatchStatus,
    EmergencyAcknowledged,
    EmergencyTrigger,
    Event,
    IdentityVerdict,
    Location,
    OfficerEmergency,
    Position,
    QualitySummary,
    WatchlistAvailable,
    utc_now,
)
from vigil.vision.detection import Detector
from vigil.vision.embedding import Embedder
from vigil.vision.image import encode_jpeg
from vigil.vision.landmarks import FivePointLandmarker
from vigil.vision.quality import QualityPolicy

_log = logging.getLogger(__name__)


class RaisedAlert(BaseModel):
    """An alert the agent raised, as ``vigil edge run --json`` lists it."""

    alert_id: uuid.UUID
    subject_id: str
    distance: float = Field(description="Embedding distance of the nearest matching face.")
    threshold: float = Field(description="The watchlist's threshold when it matched.")
    evidence: AlertEvidence = Field(description="The faces that backed it, and where in the video it was decided.")
    deployment_id: uuid.UUID | None = Field(None, description="The deployment it was raised under; None: none.")
    silent: bool = Field(False, description="Raised in a silent trial: sent to control, never shown to the officer.")


class EdgeRunReport(BaseModel):
    """What ``vigil edge run`` prints at the end."""

    frames_read: int = Field(description="Frames the source delivered.")
    frames_processed: int = Field(description="Frames the pipeline processed.")
    frames_dropped: int = Field(description="Frames dropped because the pipeline was behind the camera.")
    frames_corrupt: int = Field(description="Frames the source could not decode (skipped).")
    processing_fps: float = Field(description="Frames processed per second of processing time.")
    faces_seen: int = Field(description="Face detections, all frames together.")
    tracks: int = Field(description="People tracked (one track per person per encounter).")
    embeddings: int = Field(description="Faces embedded and searched.")
    alerts: int = Field(description="Alerts raised.")
    raised: list[RaisedAlert] = Field(description="Every alert raised, in order.")
    outbox_backlog: int = Field(description="Events still waiting for the server's acknowledgement (disk and memory).")
    outbox_in_memory: int = Field(
        0, description="Of those, the events held only in memory because the outbox's storage failed (lost at exit)."
    )
    outbox_dropped: int = Field(
        0, description="Positions and statuses discarded because the memory held its limit: never delivered."
    )
    outbox_storage: str = Field("disk", description='"disk", or "memory: <why the outbox file cannot be written>".')
    outbox_lost_at_exit: int = Field(
        0,
        description="Events still only in memory when the agent stopped, the disk still unable to take them: lost "
        "(``vigil edge run`` then exits with status 3).",
    )


@dataclass(frozen=True)
class EdgeIdentity:
    """Who this device is."""

    device_id: str
    unit_id: str


class EdgeAgent:
    """One body camera: see the module docstring."""

    def __init__(
        self,
        *,
        identity: EdgeIdentity,
        detector: Detector,
        landmarker: FivePointLandmarker,
        embedder: Embedder,
        quality_policy: QualityPolicy,
        watchlist: ActiveWatchlist,
        recognition: RecognitionSettings,
        outbox: Outbox,
        bus: Bus | None,
        position: PositionSource,
        notifiers: Sequence[Notifier],
        updater_factory: Callable[[ActiveWatchlist, Callable[[str], None]], WatchlistUpdater] | None = None,
        event_log: EventLog | None = None,
        battery: Battery | None = None,
        position_interval_s: float = 5.0,
        status_interval_s: float = 60.0,
        emergency_position_interval_s: float = 1.0,
    ) -> None:
        """Assemble the agent; nothing runs until :meth:`start`.

        Args:
            identity: this device and the officer's unit.
            detector: face detector for video.
            landmarker: 5-point landmarks.
            embedder: embedding backend.
            quality_policy: faces below it are not searched.
            watchlist: the watchlist in force.
            recognition: the track-level decision settings.
            outbox: the durable event store.
            bus: the link to the command centre; None when offline.
            position: where the officer is.
            notifiers: what shows the officer alerts, reviews and orders.
            updater_factory: builds the watchlist updater (needs the device's keys); None: no live updates.
            event_log: every event also written here, as JSON lines.
            battery: the device's battery gauge; None when it has none it can read.
            position_interval_s: seconds between positions.
            status_interval_s: seconds between device statuses.
            emergency_position_interval_s: seconds between positions while the officer's emergency is open.
        """
        self.identity = identity
        self.watchlist = watchlist
        self.outbox = outbox
        self._bus = bus
        self._position = position
        self._notifiers = list(notifiers)
        self._event_log = event_log
        self._battery = battery
        self._position_interval_s = position_interval_s
        self._status_interval_s = status_interval_s
        self._emergency_position_interval_s = emergency_position_interval_s
        self._position_wake = threading.Event()
        self.emergency = DeviceEmergency(emit=self.emit, listener=self._show_emergency)
        self._last_error: str | None = None
        self._announced_watchlist: int | None = None
        self._watchlist_problem: str | None = None
        self._stopping = threading.Event()
        self._timers: list[threading.Thread] = []
        self._awaiting_delivery: dict[uuid.UUID, DispatchStatus | AlertVerified] = {}
        self._stopped: tuple[DeploymentStopped, int] | None = None  # the stop, and the version it withdrew
        self._silent_alerts: set[uuid.UUID] = set()
        self.pipeline = RecognitionPipeline(
            detector=detector,
            landmarker=landmarker,
            embedder=embedder,
            quality_policy=quality_policy,
            watchlist=watchlist,
            settings=recognition,
            on_alert=self._raise_alert,
            may_search=self._may_search,
        )
        self.orders = OrderBook(device_id=identity.device_id, emit=self._emit_answer)
        self.verifications = Verifications(
            orders=self.orders, device_id=identity.device_id, unit_id=identity.unit_id, emit=self._emit_verdict
        )
        self.updater = updater_factory(watchlist, self._watchlist_refused) if updater_factory is not None else None
        self.uplink = Uplink(outbox=outbox, bus=bus) if bus is not None else None
        self.downlink = Downlink(
            device_id=identity.device_id,
            outbox=outbox,
            orders=self.orders,
            notifiers=self._notifiers,
            on_watchlist=self._watchlist_announced,
            on_acknowledged=self._delivered,
            on_emergency_acknowledged=self._emergency_acknowledged,
            on_deployment_stopped=self._deployment_stopped,
            hidden_alert=self._silent_alerts.__contains__,
        )
        self._raised: list[RaisedAlert] = []
        self.frames_read = 0
        self.frames_dropped = 0
        self.frames_corrupt = 0
        self._processing_s = 0.0

    def start(self) -> None:
        """Start positions, statuses, the uplink and the downlink."""
        self._position.start()
        if self._bus is not None and self.uplink is not None:
            self._bus.subscribe(f"{TOPIC_ROOT}/{self.identity.device_id}/down/#", self.downlink)
            self.uplink.start()
        for name, interval, action, wake in [
            ("position", self._position_interval, self._send_position, self._position_wake),
            ("device-status", lambda: self._status_interval_s, self._send_status, None),
        ]:
            thread = threading.Thread(target=self._every, args=(interval, action, wake), name=name, daemon=True)
            thread.start()
            self._timers.append(thread)

    def run(self, source: VideoSource, *, realtime: bool) -> None:
        """Process the source until it ends (or :meth:`stop`).

        Args:
            source: the video.
            realtime: True for a live camera: a reader thread feeds a drop-oldest buffer, so the pipeline never
                holds the camera back. False processes every frame in turn, as fast as it can, each frame's due
                searches finished before the next frame: the decisions are then the same on any machine.
        """
        feed = feed_live if realtime else feed_every_frame
        counts = feed(source, self.pipeline, stopping=self._stopping)
        self.frames_read += counts.frames_read
        self.frames_dropped += counts.frames_dropped
        self._processing_s += counts.processing_s
        self.frames_corrupt = source.stats.frames_corrupt
        self.pipeline.drain()

    def stop(self) -> None:
        """Stop everything; events not yet acknowledged stay in the outbox for the next start."""
        self._stopping.set()
        self._position_wake.set()
        self.pipeline.close()
        for thread in self._timers:
            thread.join(5)
        if self.updater is not None:
            self.updater.wait(10)
        if self.uplink is not None:
            self.uplink.stop()
        self._position.stop()

    def report(self) -> EdgeRunReport:
        """Counts so far."""
        stats = self.pipeline.stats
        outbox = self.outbox.state()
        return EdgeRunReport(
            frames_read=self.frames_read,
            frames_processed=stats.frames,
            frames_dropped=self.frames_dropped,
            frames_corrupt=self.frames_corrupt,
            processing_fps=stats.frames / self._processing_s if self._processing_s > 0 else 0.0,
            faces_seen=stats.faces_seen,
            tracks=stats.tracks,
            embeddings=stats.embeddings,
            alerts=stats.alerts,
            raised=list(self._raised),
            outbox_backlog=outbox.backlog,
            outbox_in_memory=outbox.in_memory,
            outbox_dropped=outbox.dropped,
            outbox_storage=outbox.describe(),
        )

    def health(self) -> DeviceHealth:
        """The device's health now, for the handset's status bar."""
        current = self.watchlist.current
        link = LinkState.OFFLINE
        if self.uplink is not None:
            link = LinkState.UP if self.uplink.link_up else LinkState.DOWN
        outbox = self.outbox.state()
        pause = self.search_pause()
        return DeviceHealth(
            link=link,
            outbox_backlog=outbox.backlog,
            outbox_in_memory=outbox.in_memory,
            storage_warning=outbox.warning(),
            fix=self._position.latest(),
            battery_pct=self._battery.percent() if self._battery is not None else None,
            watchlist=WatchlistHealth(
                version=current.version,
                valid_until=current.valid_until,
                announced_version=self._announced_watchlist,
                install_problem=self._watchlist_problem,
            ),
            search_paused=None if pause is None else pause.message,
            silent_trial=current.scope is not None and current.scope.silent,
        )

    def search_pause(self) -> SearchPause | None:
        """Why the camera does not search now; None while it does.

        Returns:
            With a deployment governing the watchlist: None inside its window and area, else why not. After control
            stopped the deployment (until a newer watchlist is installed): that. Otherwise None.
        """
        current = self.watchlist.current
        if current.scope is not None:
            return current.scope.pause(fix=self._position.latest(), now=utc_now())
        stopped = self._stopped
        if stopped is not None and stopped[1] == current.version:
            return stopped_pause(stopped[0])
        return None

    def answer(self, dispatch_id: uuid.UUID, status: DispatchState, *, reason: str = "") -> DispatchStatus:
        """The officer answers a dispatch order (stored, then sent)."""
        return self.orders.answer(dispatch_id, status, reason=reason)

    def verify(self, dispatch_id: uuid.UUID, verdict: IdentityVerdict) -> AlertVerified:
        """The officer compared a subject order's crop with the watchlist photo (stored, then sent).

        Returns:
            The ``alert.verified`` event in the outbox (the one stored before, for the same verdict again).

        Raises:
            UnknownDispatch: no such order.
            InvalidVerification: see :meth:`vigil.edge.orders.Verifications.verify`.
        """
        event = self.verifications.verify(dispatch_id, verdict)
        _log.info(
            "alert.verified",
            extra={"alert_id": str(event.alert_id), "dispatch_id": str(dispatch_id), "verdict": event.verdict.value},
        )
        return event

    def raise_emergency(self) -> OfficerEmergency:
        """The officer holds the emergency button: raise the officer's emergency, or return the open one.

        The ``officer.emergency`` (with the latest fix) is stored like any event and shown on the notifiers, and
        positions go out every second from now on. While one is open, a press returns it: no second emergency.

        Returns:
            The open emergency's event.
        """
        event = self.emergency.raise_(self._new_emergency)
        self._position_wake.set()  # the first faster position now, not at the end of the current interval
        return event

    def dismiss_emergency(self) -> None:
        """The officer dismisses the emergency control acknowledged; positions go back to their usual interval.

        Raises:
            NoEmergency: none is open.
            EmergencyNotAcknowledged: control has not acknowledged it yet.
        """
        self.emergency.dismiss()

    def emit(self, event: Event) -> None:
        """Store an event for sending (on disk before this returns; in memory while storage fails) and log it."""
        self.outbox.put(event)
        if self._event_log is not None:
            try:
                self._event_log.write(event)
            except OSError as exc:
                # Only a copy for checking a run (the event is in the outbox): a full disk must not stop the send.
                _log.warning("edge.event_log_failed", extra={"event_id": str(event.id), "reason": str(exc)})
        if self.uplink is not None:
            self.uplink.wake()

    def _emit_answer(self, event: DispatchStatus) -> None:
        self._awaiting_delivery[event.id] = event
        self.emit(event)
        for notifier in self._notifiers:
            notifier.order_status(event.dispatch_id, event.status, delivered=False)

    def _emit_verdict(self, event: AlertVerified) -> None:
        self._awaiting_delivery[event.id] = event
        self.emit(event)
        self._show_verdict(event, delivered=False)

    def _show_verdict(self, event: AlertVerified, *, delivered: bool) -> None:
        for notifier in self._notifiers:
            if isinstance(notifier, VerdictNotifier):
                notifier.order_verified(event.dispatch_id, event.verdict, delivered=delivered)

    def _delivered(self, ack: Ack) -> None:
        self.emergency.delivered(ack.ids)
        for event_id in ack.ids:
            match self._awaiting_delivery.pop(event_id, None):
                case DispatchStatus() as answer:
                    for notifier in self._notifiers:
                        notifier.order_status(answer.dispatch_id, answer.status, delivered=True)
                case AlertVerified() as verdict:
                    self._show_verdict(verdict, delivered=True)

    def _new_emergency(self) -> OfficerEmergency:
        fix = self._position.latest()
        location = None
        if fix is not None:
            accuracy = fix.accuracy_m if fix.accuracy_m is not None and fix.accuracy_m <= MAX_ACCURACY_M else None
            location = Location(lat=fix.lat, lon=fix.lon, accuracy_m=accuracy)
        event = OfficerEmergency(
            device_id=self.identity.device_id,
            emergency_id=uuid.uuid4(),
            unit_id=self.identity.unit_id,
            trigger=EmergencyTrigger.HANDSET,
            location=location,
        )
        _log.warning(
            "emergency.raised",
            extra={"emergency_id": str(event.emergency_id), "unit_id": event.unit_id, "located": fix is not None},
        )
        return event

    def _show_emergency(self, status: EmergencyStatus | None) -> None:
        for notifier in self._notifiers:
            notifier.emergency(status)

    def _emergency_acknowledged(self, acknowledgement: EmergencyAcknowledged) -> None:
        if self.emergency.acknowledged(acknowledgement):
            _log.info(
                "emergency.acknowledged",
                extra={"emergency_id": str(acknowledgement.emergency_id), "by": acknowledgement.by},
            )
        else:
            _log.warning("emergency.unknown_acknowledged", extra={"emergency_id": str(acknowledgement.emergency_id)})

    def _position_interval(self) -> float:
        return self._emergency_position_interval_s if self.emergency.open else self._position_interval_s

    def _may_search(self) -> bool:
        return self.search_pause() is None

    def _may_alert(self, scope: HeldScope, fix: PositionFix | None) -> bool:
        """Whether an alert decided under ``scope`` may be raised now (the search began before a pause or stop)."""
        held = self.watchlist.current.scope
        return (
            held is not None
            and held.deployment_id == scope.deployment_id
            and held.pause(fix=fix, now=utc_now()) is None
        )

    def _raise_alert(self, alert: TrackAlert) -> None:
        fix = self._position.latest()
        scope = alert.scope
        if scope is not None and not self._may_alert(scope, fix):
            return  # dropped in memory, as a face that matched nobody: not stored, logged or sent
        location = None
        if fix is not None:
            # An estimate beyond the contract's 100 km (gpsd's first epoch after losing the fix) says nothing useful.
            accuracy = fix.accuracy_m if fix.accuracy_m is not None and fix.accuracy_m <= MAX_ACCURACY_M else None
            location = Location(lat=fix.lat, lon=fix.lon, accuracy_m=accuracy)
        probe_jpeg = encode_jpeg(alert.probe_crop, quality=85)
        evidence = AlertEvidence(
            faces_searched=alert.searches,
            matched_qualities=list(alert.matched_qualities),
            best_frame=alert.best.frame_index,
            best_video_s=alert.best.timestamp_s,
            first_seen_frame=alert.first_seen_frame,
            decided_frame=alert.decided_frame,
            decided_video_s=alert.decided_s,
        )
        now = utc_now()
        event = AlertRaised(
            device_id=self.identity.device_id,
            alert_id=uuid.uuid4(),
            unit_id=self.identity.unit_id,
            subject_id=alert.match.subject.subject_id,
            watchlist_version=alert.watchlist_version,
            model=alert.model,
            distance=alert.match.distance,
            threshold=alert.threshold,
            quality=QualitySummary(
                score=alert.best.quality.score, parts={part.name: part.value for part in alert.best.quality.parts}
            ),
            frames=alert.matching_embeddings,
            evidence=evidence,
            first_seen_at=now - timedelta(seconds=max(0.0, alert.decided_s - alert.first_seen_s)),
            location=location,
            probe_jpeg=probe_jpeg,
            at=now,
            deployment_id=None if scope is None else scope.deployment_id,
        )
        silent = scope is not None and scope.silent
        self._raised.append(
            RaisedAlert(
                alert_id=event.alert_id,
                subject_id=event.subject_id,
                distance=event.distance,
                threshold=event.threshold,
                evidence=evidence,
                deployment_id=event.deployment_id,
                silent=silent,
            )
        )
        if silent:
            # A silent trial: control records the match for trained reviewers; the officer is told nothing of it.
            self._silent_alerts.add(event.alert_id)
            self.emit(event)
            _log.info(
                "alert.raised",
                extra={"alert_id": str(event.alert_id), "deployment_id": str(event.deployment_id), "silent": True},
            )
            return
        card = AlertCard(
            alert_id=event.alert_id,
            subject_id=alert.match.subject.subject_id,
            name=alert.match.subject.display_name,
            category=alert.match.subject.category.value,
            notes=alert.match.subject.notes,
            distance=alert.match.distance,
            threshold=alert.threshold,
            probe_jpeg=probe_jpeg,
            watchlist_jpeg=self.watchlist.current.gallery.template_chip(alert.match.template),
            at=now,
            deployment_id=event.deployment_id,
        )
        for notifier in self._notifiers:
            notifier.alert(card)
        self.emit(event)
        _log.info(
            "alert.raised",
            extra={
                "alert_id": str(event.alert_id),
                "subject_id": event.subject_id,
                "distance": event.distance,
                "deployment_id": None if event.deployment_id is None else str(event.deployment_id),
            },
        )

    def _deployment_stopped(self, stopped: DeploymentStopped) -> None:
        """Control stopped a deployment: stop searching under it and, if told, delete what it found."""
        withdrawn = self.watchlist.withdraw(stopped.deployment_id)
        if withdrawn is not None:
            self._stopped = (stopped, withdrawn.version)
            self.pipeline.forget_tracks()
        deleted = self.outbox.discard_alerts(stopped.deployment_id) if stopped.delete_results else 0
        for notifier in self._notifiers:
            if isinstance(notifier, DeploymentNotifier):
                notifier.deployment_stopped(stopped)
        facts = {
            "deployment_id": str(stopped.deployment_id),
            "reason": stopped.reason.value,
            "delete_results": stopped.delete_results,
            "watchlist_version": None if withdrawn is None else withdrawn.version,
            "subjects_dropped": 0 if withdrawn is None else len(withdrawn.gallery.subjects),
            "alerts_deleted": deleted,
        }
        if withdrawn is None and deleted == 0:
            _log.warning("deployment.stop_unknown", extra=facts)  # no watchlist of it in force, nothing of it waiting
        else:
            _log.info("deployment.stopped", extra=facts)

    def _send_position(self) -> None:
        fix = self._position.latest()
        if fix is None:
            return
        self.emit(
            Position(
                device_id=self.identity.device_id,
                unit_id=self.identity.unit_id,
                lat=fix.lat,
                lon=fix.lon,
                accuracy_m=fix.accuracy_m if fix.accuracy_m is not None and fix.accuracy_m <= MAX_ACCURACY_M else None,
                heading_deg=fix.heading_deg,
                speed_mps=fix.speed_mps if fix.speed_mps is not None and fix.speed_mps <= MAX_SPEED_MPS else None,
                source=fix.source,
                at=fix.at,
            )
        )

    def _send_status(self) -> None:
        current = self.watchlist.current
        outbox = self.outbox.state()
        warning = outbox.warning()
        self.emit(
            DeviceStatus(
                device_id=self.identity.device_id,
                battery_pct=self._battery.percent() if self._battery is not None else None,
                # Version 0 is no watchlist yet (a device waiting for its first package): the contract says None.
                watchlist_version=current.version or None,
                faces_processed=self.pipeline.stats.embeddings,
                # A storage fault is the device's most urgent problem: its events are not safe.
                last_error=warning[:2000] if warning is not None else self._last_error,
                outbox_backlog=outbox.backlog,
                outbox_in_memory=outbox.in_memory,
                outbox_dropped=outbox.dropped,
                storage_warning=warning[:2000] if warning is not None else None,
            )
        )

    def _record_error(self, message: str) -> None:
        self._last_error = message[:2000]

    def _watchlist_announced(self, announcement: WatchlistAvailable) -> None:
        self._announced_watchlist = max(self._announced_watchlist or 0, announcement.version)
        if self.updater is None and announcement.version > self.watchlist.current.version:
            self._watchlist_refused("this device was started without the keys to open watchlist packages")
        elif self.updater is not None:
            self.updater.announce(announcement)

    def _watchlist_refused(self, reason: str) -> None:
        self._watchlist_problem = reason
        self._record_error(reason)

    def _every(self, interval_s: Callable[[], float], action: Callable[[], None], wake: threading.Event | None) -> None:
        """Run ``action`` every ``interval_s()`` seconds until stopped; setting ``wake`` runs it at once."""
        wait = self._stopping.wait if wake is None else wake.wait
        while not self._stopping.is_set():
            try:
                action()
            except Exception:
                # A failed position or status must not end the timer; the next one may succeed.
                _log.exception("edge.timer_failed", extra={"action": action.__name__})
            wait(interval_s())
            if wake is not None:
                wake.clear()
