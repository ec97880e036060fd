"""How the officer is told: the :class:`Notifier` seam, and the console notifier of a device without a screen.

A notifier shows an alert card the moment a track decides (the subject's name, category, notes, watchlist photo
beside the live crop, distance against threshold), then the command centre's review of it, dispatch orders (for a
subject, or to help an officer in danger), and the officer's own emergency as it reaches control.
The handset screen is another notifier; the agent can drive several at once. A notifier that can also take
back what it showed of a deployment control stopped is a :class:`DeploymentNotifier` too.

In a deployment's silent trial, no notifier is told of its alerts at all: they go to control only.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from rich.console import Console
from rich.panel import Panel

from vigil.edge.emergency import EmergencyStatus
from vigil.events import AlertReviewed, DeploymentStopped, DispatchCancelled, DispatchOrder, DispatchState


@dataclass(frozen=True)
class AlertCard:
    """What the officer sees when the camera recognises a watchlist subject.

    Attributes:
        alert_id: the alert.
        subject_id: who.
        name: the subject's name.
        category: why they are on the watchlist.
        notes: notes for officers.
        distance: the match distance.
        threshold: the watchlist threshold.
        probe_jpeg: the live face crop.
        watchlist_jpeg: the enrolled face chip.
        at: when the alert was raised (UTC).
        deployment_id: the deployment it was raised under; None when no deployment governs the watchlist.
    """

    alert_id: uuid.UUID
    subject_id: str
    name: str
    category: str
    notes: str
    distance: float
    threshold: float
    probe_jpeg: bytes
    watchlist_jpeg: bytes
    at: datetime
    deployment_id: uuid.UUID | None = None


class Notifier(Protocol):
    """Something that shows the officer what happens."""

    def alert(self, card: AlertCard) -> None:
        """Show a new alert: unconfirmed until the command centre reviews it."""
        ...

    def reviewed(self, review: AlertReviewed) -> None:
        """Show the command centre's decision on an alert."""
        ...

    def order(self, order: DispatchOrder) -> None:
        """Show a dispatch order, or a newer revision of one shown (same ``dispatch_id``: the target moved)."""
        ...

    def order_cancelled(self, cancellation: DispatchCancelled) -> None:
        """Show that control stood the unit down from an order."""
        ...

    def order_status(self, dispatch_id: uuid.UUID, status: DispatchState, delivered: bool) -> None:
        """Show the officer's own answer to an order: sent, then delivered once the server has it."""
        ...

    def emergency(self, status: EmergencyStatus | None) -> None:
        """Show the officer's emergency: raised, delivered, acknowledged; None once the officer dismissed it."""
        ...


@runtime_checkable
class DeploymentNotifier(Protocol):
    """A notifier that also hears when control stopped a deployment, to take back what it showed of it."""

    def deployment_stopped(self, stopped: DeploymentStopped) -> None:
        """The device no longer searches under the deployment; with ``delete_results``, forget its alert cards."""
        ...


class ConsoleNotifier:
    """Alert cards on a terminal (stderr), for a device without a screen and for the command line."""

    def __init__(self, console: Console | None = None) -> None:
        """Print to ``console`` (default: stderr)."""
        self._console = console or Console(stderr=True)

    def alert(self, card: AlertCard) -> None:
        """See :meth:`Notifier.alert`."""
        body = (
            f"[bold]{card.name}[/bold]  ({card.category.replace('_', ' ')})\n"
            f"distance {card.distance:.3f} against threshold {card.threshold:.3f}\n"
            f"{card.notes}\n"
            "[yellow]UNCONFIRMED: do not act on the match alone; control is reviewing it[/yellow]"
        )
        self._console.print(Panel(body, title=f"WATCHLIST ALERT {card.at:%H:%M:%S}", border_style="red"))

    def reviewed(self, review: AlertReviewed) -> None:
        """See :meth:`Notifier.reviewed`."""
        verdict = "[green]CONFIRMED by control[/green]" if review.decision == "confirmed" else "DISMISSED by control"
        reason = f": {review.reason}" if review.reason else ""
        self._console.print(f"alert {str(review.alert_id)[:8]} {verdict} ({review.reviewer}){reason}")

    def order(self, order: DispatchOrder) -> None:
        """See :meth:`Notifier.order`."""
        target = f"go to {order.target.lat:.5f}, {order.target.lon:.5f}\n"
        if order.emergency is not None:
            body = f"{target}[bold]OFFICER IN DANGER: {order.emergency.call_sign}[/bold]\n{order.instructions}"
            kind, border = "OFFICER IN DANGER", "red"
        elif order.subject is not None:
            body = (
                f"{target}subject: [bold]{order.subject.name}[/bold] ({order.subject.category.replace('_', ' ')})\n"
                f"{order.subject.risk_notes}\n{order.instructions}"
            )
            kind, border = "DISPATCH", "blue"
        update = f" (update {order.revision})" if order.revision > 1 else ""
        self._console.print(Panel(body, title=f"{kind} {str(order.dispatch_id)[:8]}{update}", border_style=border))

    def order_cancelled(self, cancellation: DispatchCancelled) -> None:
        """See :meth:`Notifier.order_cancelled`."""
        reason = f": {cancellation.reason}" if cancellation.reason else ""
        self._console.print(f"dispatch {str(cancellation.dispatch_id)[:8]}: STOOD DOWN by control{reason}")

    def order_status(self, dispatch_id: uuid.UUID, status: DispatchState, delivered: bool) -> None:
        """See :meth:`Notifier.order_status`."""
        state = "delivered" if delivered else "sent"
        self._console.print(f"dispatch {str(dispatch_id)[:8]}: {status.value.replace('_', ' ')} ({state})")

    def emergency(self, status: EmergencyStatus | None) -> None:
        """See :meth:`Notifier.emergency`."""
        if status is None:
            self._console.print("emergency dismissed by the officer")
        elif status.acknowledged_by is not None and status.acknowledged_at is not None:
            message = f": {status.message}" if status.message else ""
            self._console.print(
                f"[bold red]EMERGENCY[/bold red] control has it: {status.acknowledged_by}, "
                f"{status.acknowledged_at:%H:%M:%S}{message}"
            )
        elif status.delivered:
            self._console.print("[bold red]EMERGENCY[/bold red] delivered to control")
        else:
            self._console.print(f"[bold red]EMERGENCY SENT[/bold red] {status.raised_at:%H:%M:%S}: waiting for control")

    def deployment_stopped(self, stopped: DeploymentStopped) -> None:
        """See :meth:`DeploymentNotifier.deployment_stopped` (a terminal cannot take back what it printed)."""
        deleted = ": its alerts are withdrawn, disregard them" if stopped.delete_results else ""
        self._console.print(
            f"deployment {str(stopped.deployment_id)[:8]} STOPPED by control ({stopped.reason.value}); "
            f"searching under it has stopped{deleted}"
        )
