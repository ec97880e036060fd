"""A simulated officer: patrols the streets, and answers dispatch orders as a person tapping the handset would.

The officer is a :class:`~vigil.edge.notifier.Notifier` of an edge agent, so orders reach them exactly as they
reach a real officer's screen (the agent's downlink shows them), and every answer goes back through the agent's
own order flow: :meth:`~vigil.edge.agent.EdgeAgent.answer` → order book → outbox → bus. Where they are is their
:class:`~vigil.sim.movement.StreetMovement`, the agent's position source.

What they do, in simulated time (:mod:`vigil.sim.clock`), each step on a :meth:`SimulatedOfficer.tick`:

1. patrol a random loop of the streets, on foot (about 1.4 m/s) or in a car (8–12 m/s in town);
2. on an order, think for a few seconds, then accept it, or decline it with a reason (now and then, with a
   set probability; always when already committed to another order);
3. a moment later report en route and go along the streets to the target; a newer revision of the order that
   moves the target sends them to the new one from wherever they are;
4. report on scene on arrival and, on a subject order whose identity two people have not yet verified, compare
   the camera's crop with the watchlist photo on the handset and tap "same person"
   (:meth:`~vigil.edge.agent.EdgeAgent.verify`, as the handset's screen does): the demo's operator confirms only
   true matches, so the person at the target is the subject;
5. stay a while, report clear, and go back on patrol from there.

Control standing them down (``dispatch.cancelled``) ends the order at once: back to patrol, no more answers.
"""

import enum
import logging
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigil.dispatch.unit import UnitKind
from vigil.edge.emergency import EmergencyStatus
from vigil.edge.notifier import AlertCard
from vigil.edge.orders import InvalidDispatchAnswer, InvalidVerification, UnknownDispatch
from vigil.edge.route import Point
from vigil.events import (
    AlertReviewed,
    AlertVerified,
    DispatchCancelled,
    DispatchOrder,
    DispatchState,
    DispatchStatus,
    IdentityVerdict,
    utc_now,
)
from vigil.sim.city import City
from vigil.sim.clock import Clock
from vigil.sim.errors import InvalidSimSettings
from vigil.sim.movement import StreetMovement

_log = logging.getLogger(__name__)

BUSY_REASON = "already committed to another incident"
"""The reason an officer gives for declining an order while working on another one."""


class OfficerBehaviour(BaseModel):
    """How simulated officers move and answer; times are simulated seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    foot_speed_mps: float = Field(1.4, gt=0, le=3, description="Walking speed, metres per second.")
    vehicle_min_speed_mps: float = Field(8.0, gt=0, le=30, description="Slowest car in town, metres per second.")
    vehicle_max_speed_mps: float = Field(12.0, gt=0, le=30, description="Fastest car in town, metres per second.")
    answer_min_s: float = Field(2.0, ge=0, le=600, description="Shortest time to read an order and answer it.")
    answer_max_s: float = Field(6.0, ge=0, le=600, description="Longest time to read an order and answer it.")
    decline_probability: float = Field(0.1, ge=0, le=1, description="Share of orders declined (when free).")
    decline_reasons: tuple[str, ...] = Field(
        ("dealing with a collision on my beat", "escorting a detained person", "vehicle defect, off the road"),
        min_length=1,
        description="Reasons given for a decline, one chosen at random.",
    )
    set_off_s: float = Field(3.0, ge=0, le=600, description="Time from accepting to setting off (en route).")
    on_scene_min_s: float = Field(60.0, ge=0, le=86_400, description="Shortest stay on scene before clearing.")
    on_scene_max_s: float = Field(180.0, ge=0, le=86_400, description="Longest stay on scene before clearing.")
    patrol_stops: int = Field(4, ge=2, le=50, description="Junctions on each random patrol loop.")

    @model_validator(mode="after")
    def _ranges_in_order(self) -> Self:
        for low, high in (
            ("vehicle_min_speed_mps", "vehicle_max_speed_mps"),
            ("answer_min_s", "answer_max_s"),
            ("on_scene_min_s", "on_scene_max_s"),
        ):
            if getattr(self, low) > getattr(self, high):
                raise ValueError(f"{low} ({getattr(self, low):g}) must not exceed {high} ({getattr(self, high):g})")
        return self


class Handset(Protocol):
    """Where the officer's taps go: the edge agent's order flow (:meth:`vigil.edge.agent.EdgeAgent.answer`)."""

    def answer(self, dispatch_id: uuid.UUID, status: DispatchState, *, reason: str = "") -> DispatchStatus:
        """Store the answer in the outbox and send it."""
        ...

    def verify(self, dispatch_id: uuid.UUID, verdict: IdentityVerdict) -> AlertVerified:
        """Store the verdict on the order's match in the outbox and send it."""
        ...


class Activity(enum.StrEnum):
    """What the officer is doing."""

    PATROLLING = "patrolling"
    CONSIDERING = "considering"
    """An order arrived; not answered yet."""
    ACCEPTED = "accepted"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"


@dataclass(frozen=True)
class AnswerGiven:
    """One answer the officer gave.

    Attributes:
        dispatch_id: the order.
        status: the answer.
        reason: why, for a decline.
        sim_time: when, simulated seconds.
        at: when, real time (UTC): the answer event's time.
        where: where the officer was, (lat, lon) degrees.
    """

    dispatch_id: uuid.UUID
    status: DispatchState
    reason: str
    sim_time: float
    at: datetime
    where: Point


@dataclass(frozen=True)
class VerdictGiven:
    """The officer's verdict on an order's match, given on scene.

    Attributes:
        dispatch_id: the order.
        verdict: what the officer saw.
        sim_time: when, simulated seconds.
    """

    dispatch_id: uuid.UUID
    verdict: IdentityVerdict
    sim_time: float


@dataclass
class _Assignment:
    order: DispatchOrder
    answer_at: float
    decline_reason: str | None
    activity: Activity = Activity.CONSIDERING
    next_at: float = 0.0


class SimulatedOfficer:
    """One simulated officer; see the module's description. ``tick()`` from one thread; the rest from any."""

    def __init__(
        self,
        *,
        unit_id: str,
        kind: UnitKind,
        city: City,
        clock: Clock,
        behaviour: OfficerBehaviour,
        rng: random.Random,
        start: Point | None = None,
        wall: Callable[[], datetime] = utc_now,
    ) -> None:
        """Put the officer on the streets, on patrol; answers need :meth:`attach`.

        Args:
            unit_id: the officer's unit (for logs).
            kind: on foot, or in a car or on a motorcycle (both keep to the streets open to vehicles).
            city: the streets.
            clock: simulated time.
            behaviour: speeds and timings.
            rng: every random choice the officer makes (start, patrols, speed, delays, declines).
            start: where the shift starts, (lat, lon) degrees; None: a random point on the streets.
            wall: the real time that fixes and the answer log carry.

        Raises:
            OffTheStreets: ``start`` is too far from the streets.
        """
        self.unit_id = unit_id
        self.kind = kind
        self._city = city
        self._clock = clock
        self._behaviour = behaviour
        self._rng = rng
        self._wall = wall
        self.speed_mps = (
            behaviour.foot_speed_mps
            if kind is UnitKind.FOOT
            else rng.uniform(behaviour.vehicle_min_speed_mps, behaviour.vehicle_max_speed_mps)
        )
        here = start if start is not None else city.random_point(rng, kind=kind)
        self.movement = StreetMovement(here, clock=clock, wall=wall)
        """Where the officer is: the position source for the officer's edge agent."""
        self._handset: Handset | None = None
        self._lock = threading.Lock()
        self._inbox: list[DispatchOrder | DispatchCancelled] = []
        self._assignment: _Assignment | None = None
        self._declining: dict[uuid.UUID, tuple[float, str]] = {}
        self._answers: list[AnswerGiven] = []
        self._verdicts: list[VerdictGiven] = []
        self._patrol()

    def attach(self, handset: Handset) -> None:
        """Send answers to ``handset`` (the officer's edge agent, built with this officer as a notifier)."""
        self._handset = handset

    @property
    def activity(self) -> Activity:
        """What the officer is doing now."""
        with self._lock:
            return self._assignment.activity if self._assignment is not None else Activity.PATROLLING

    @property
    def answers(self) -> list[AnswerGiven]:
        """Every answer given so far, oldest first."""
        with self._lock:
            return list(self._answers)

    @property
    def verdicts(self) -> list[VerdictGiven]:
        """Every verdict given on an order's match so far, oldest first."""
        with self._lock:
            return list(self._verdicts)

    # --- what the handset shows (the Notifier seam) ----------------------------------------------------------

    def alert(self, card: AlertCard) -> None:
        """A body camera's alert: the officer waits for control's review (nothing to do)."""

    def reviewed(self, review: AlertReviewed) -> None:
        """Control's review of an alert: orders follow separately (nothing to do)."""

    def order(self, order: DispatchOrder) -> None:
        """An order, or a newer revision of one: acted on at the next tick."""
        with self._lock:
            self._inbox.append(order)

    def order_cancelled(self, cancellation: DispatchCancelled) -> None:
        """Control stood the officer down: acted on at the next tick."""
        with self._lock:
            self._inbox.append(cancellation)

    def order_status(self, dispatch_id: uuid.UUID, status: DispatchState, delivered: bool) -> None:
        """The officer's own answer, sent or delivered (nothing to do)."""

    def emergency(self, status: EmergencyStatus | None) -> None:
        """The officer's own emergency (a simulated officer raises none: nothing to do)."""

    # --- acting ----------------------------------------------------------------------------------------------

    def tick(self) -> None:
        """Do whatever is due by now: read new orders, answer, set off, arrive, clear."""
        now = self._clock.now()
        with self._lock:
            inbox, self._inbox = self._inbox, []
        for message in inbox:
            if isinstance(message, DispatchOrder):
                self._receive(message, now)
            else:
                self._stood_down(message)
        for dispatch_id, (due, reason) in list(self._declining.items()):
            if now >= due:
                del self._declining[dispatch_id]
                self._answer(dispatch_id, DispatchState.DECLINED, now, reason=reason)
        self._advance(now)

    def _receive(self, order: DispatchOrder, now: float) -> None:
        assignment = self._assignment
        if assignment is not None and assignment.order.dispatch_id == order.dispatch_id:
            if order.revision <= assignment.order.revision:
                return
            assignment.order = order
            if assignment.activity in (Activity.EN_ROUTE, Activity.ON_SCENE):
                _log.info("officer.rerouted", extra={"unit_id": self.unit_id, "revision": order.revision})
                self._go_to(order)
                assignment.activity = Activity.EN_ROUTE
            return
        if order.dispatch_id in self._declining:
            return
        delay = self._rng.uniform(self._behaviour.answer_min_s, self._behaviour.answer_max_s)
        if assignment is not None:
            self._declining[order.dispatch_id] = (now + delay, BUSY_REASON)
            return
        declines = self._rng.random() < self._behaviour.decline_probability
        reason = self._rng.choice(self._behaviour.decline_reasons) if declines else None
        with self._lock:
            self._assignment = _Assignment(order=order, answer_at=now + delay, decline_reason=reason)

    def _stood_down(self, cancellation: DispatchCancelled) -> None:
        self._declining.pop(cancellation.dispatch_id, None)
        assignment = self._assignment
        if assignment is not None and assignment.order.dispatch_id == cancellation.dispatch_id:
            self._end_assignment()

    def _advance(self, now: float) -> None:
        """Take every step of the order that is due by ``now``, in turn."""
        while (assignment := self._assignment) is not None:
            dispatch_id = assignment.order.dispatch_id
            match assignment.activity:
                case Activity.CONSIDERING if now >= assignment.answer_at:
                    if assignment.decline_reason is not None:
                        self._answer(dispatch_id, DispatchState.DECLINED, now, reason=assignment.decline_reason)
                        if self._assignment is assignment:
                            self._end_assignment()
                    elif self._answer(dispatch_id, DispatchState.ACCEPTED, now):
                        self._set_activity(assignment, Activity.ACCEPTED, now + self._behaviour.set_off_s)
                case Activity.ACCEPTED if now >= assignment.next_at:
                    if self._answer(dispatch_id, DispatchState.EN_ROUTE, now):
                        self._go_to(assignment.order)
                        self._set_activity(assignment, Activity.EN_ROUTE, 0.0)
                case Activity.EN_ROUTE if now >= self.movement.arrival:
                    self.movement.stand()
                    stay = self._rng.uniform(self._behaviour.on_scene_min_s, self._behaviour.on_scene_max_s)
                    if self._answered(dispatch_id, DispatchState.ON_SCENE) or self._answer(
                        dispatch_id, DispatchState.ON_SCENE, now
                    ):
                        self._set_activity(assignment, Activity.ON_SCENE, now + stay)
                        self._verify(assignment.order, now)
                case Activity.ON_SCENE if now >= assignment.next_at:
                    if self._answer(dispatch_id, DispatchState.CLEARED, now):
                        self._end_assignment()
                case _:
                    return

    def _set_activity(self, assignment: _Assignment, activity: Activity, next_at: float) -> None:
        with self._lock:
            assignment.activity, assignment.next_at = activity, next_at

    def _go_to(self, order: DispatchOrder) -> None:
        target = (order.target.lat, order.target.lon)
        route = self._city.route(self.movement.where(), target, kind=self.kind)
        self.movement.follow(route, speed_mps=self.speed_mps, loop=False)

    def _answered(self, dispatch_id: uuid.UUID, status: DispatchState) -> bool:
        """Whether this answer was given already (an officer on scene sent to a moved target arrives again)."""
        with self._lock:
            return any(a.dispatch_id == dispatch_id and a.status is status for a in self._answers)

    def _answer(self, dispatch_id: uuid.UUID, status: DispatchState, now: float, *, reason: str = "") -> bool:
        """Tap the answer on the handset; False (and the order dropped) when the order no longer takes it."""
        try:
            event = self._attached().answer(dispatch_id, status, reason=reason)
        except (InvalidDispatchAnswer, UnknownDispatch) as exc:
            # Control stood the officer down between the order and the tap: the handset refuses the answer.
            _log.info("officer.answer_refused", extra={"unit_id": self.unit_id, "reason": str(exc)})
            if self._assignment is not None and self._assignment.order.dispatch_id == dispatch_id:
                self._end_assignment()
            return False
        with self._lock:
            self._answers.append(
                AnswerGiven(dispatch_id, status, reason, sim_time=now, at=event.at, where=self.movement.where())
            )
        return True

    def _verify(self, order: DispatchOrder, now: float) -> None:
        """On scene: compare the crop with the watchlist photo, unless two people have verified the identity."""
        if order.evidence is None or order.evidence.verified_by is not None:
            return
        with self._lock:
            if any(v.dispatch_id == order.dispatch_id for v in self._verdicts):
                return
        try:
            event = self._attached().verify(order.dispatch_id, IdentityVerdict.SAME_PERSON)
        except (InvalidVerification, UnknownDispatch) as exc:
            # Control stood the officer down between the arrival and the tap: the handset refuses the verdict.
            _log.info("officer.verdict_refused", extra={"unit_id": self.unit_id, "reason": str(exc)})
            return
        with self._lock:
            self._verdicts.append(VerdictGiven(order.dispatch_id, event.verdict, sim_time=now))

    def _attached(self) -> Handset:
        if self._handset is None:
            raise InvalidSimSettings(f"officer {self.unit_id} has no handset: call attach() with their edge agent")
        return self._handset

    def _end_assignment(self) -> None:
        with self._lock:
            self._assignment = None
        self._patrol()

    def _patrol(self) -> None:
        loop = self._city.patrol_loop(
            self.movement.where(), kind=self.kind, rng=self._rng, stops=self._behaviour.patrol_stops
        )
        self.movement.follow(loop, speed_mps=self.speed_mps, loop=True)
