/**
 * The alert queue: alerts awaiting review, newest first, each with the time since it was raised. A new arrival
 * is cued (sound and flash) and marked until the operator opens it.
 */
import { element, required, setText } from "../shared/dom";
import { cue } from "./cue";
import { age, secondsSince } from "./format";
import type { PendingAlert } from "./types";

export class AlertQueue {
  private readonly alerts = new Map<string, PendingAlert>();
  private readonly fresh = new Set<string>();
  private selected: string | null = null;

  constructor(
    private readonly list: HTMLElement,
    private readonly open: (alertId: string) => void,
  ) {
    window.setInterval(() => this.tick(), 1000);
  }

  /** Load the queue (no cue: these were waiting before the page opened). */
  load(alerts: readonly PendingAlert[]): void {
    for (const alert of alerts) this.alerts.set(alert.alert_id, alert);
    this.render();
  }

  /** A new alert arrived on the feed: queue it, cue the operator. Returns whether it was new. */
  arrive(alert: PendingAlert): boolean {
    if (this.alerts.has(alert.alert_id)) return false;
    this.alerts.set(alert.alert_id, alert);
    this.fresh.add(alert.alert_id);
    this.render();
    cue(this.list);
    cue(required("#pending-count"), false); // seen even while a review or an incident covers the queue
    return true;
  }

  /** Someone decided it (here or on another screen). */
  remove(alertId: string): void {
    this.alerts.delete(alertId);
    this.fresh.delete(alertId);
    this.render();
  }

  /** Unreviewed too long: supervisors were told; mark it. */
  escalated(alertId: string): void {
    const alert = this.alerts.get(alertId);
    if (alert === undefined) return;
    this.alerts.set(alertId, { ...alert, escalated: true });
    this.render();
  }

  select(alertId: string | null): void {
    this.selected = alertId;
    if (alertId !== null) this.fresh.delete(alertId);
    this.render();
  }

  get size(): number {
    return this.alerts.size;
  }

  get(alertId: string): PendingAlert | undefined {
    return this.alerts.get(alertId);
  }

  private render(): void {
    const newest = [...this.alerts.values()].sort((a, b) => Date.parse(b.raised_at) - Date.parse(a.raised_at));
    const items = newest.map((alert) => {
      const button = element(
        "button",
        { type: "button", class: "queue-item", "data-alert": alert.alert_id },
        element("span", { class: "subject" }, alert.subject_id),
        element("span", { class: "where" }, `${alert.unit_id} · ${alert.device_id}`),
        element("span", { class: "since", "data-raised": alert.raised_at }, `${age(secondsSince(alert.raised_at))} ago`),
        element("span", { class: "score" }, `distance ${alert.distance.toFixed(3)} / ${alert.threshold.toFixed(3)}`),
      );
      if (this.fresh.has(alert.alert_id)) button.classList.add("fresh");
      if (alert.escalated === true) {
        button.classList.add("escalated");
        button.append(element("span", { class: "escalated-tag" }, "ESCALATED: waiting too long"));
      }
      if (this.selected === alert.alert_id) button.setAttribute("aria-current", "true");
      button.addEventListener("click", () => this.open(alert.alert_id));
      return element("li", {}, button);
    });
    this.list.replaceChildren(...items);
    required("#queue-empty").hidden = items.length > 0;
    const count = required("#pending-count");
    setText(count, this.alerts.size === 0 ? "No alerts pending" : `${this.alerts.size} alert(s) to review`);
    count.classList.toggle("waiting", this.alerts.size > 0);
    document.title = this.alerts.size > 0 ? `(${this.alerts.size}) Vigil control room` : "Vigil control room";
  }

  private tick(): void {
    for (const since of this.list.querySelectorAll<HTMLElement>(".since")) {
      setText(since, `${age(secondsSince(since.dataset["raised"] ?? ""))} ago`);
    }
  }
}
