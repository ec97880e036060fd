/**
 * Matches awaiting their second verification: confirmed by one operator, not yet verified by a second person.
 * A section under the alert queue lists them, oldest confirmation first, and a badge beside the pending count
 * says how many there are, so that a second operator finds them at a glance; one click opens the faces and the
 * three verdicts. The list follows the open incidents and the feed (a confirmation adds one, a verification or
 * a refutation removes it).
 */
import { element, required, setText } from "../shared/dom";
import { age, secondsSince } from "./format";
import type { CurrentUser, Incident, ReviewOutcome, Verification } from "./types";

interface Awaiting {
  readonly alert_id: string;
  /** The incident acting on it, once known. */
  readonly incident_id: string | null;
  readonly name: string;
  readonly confirmed_by: string;
  readonly confirmed_at: string;
  /** The signed-in user confirmed it: someone else must verify it. */
  readonly mine: boolean;
}

export class AwaitingVerification {
  private readonly waiting = new Map<string, Awaiting>();
  /** Alerts whose identity is settled: a late or replayed confirmation does not bring them back. */
  private readonly settled = new Set<string>();

  constructor(
    private readonly list: HTMLElement,
    private readonly user: CurrentUser,
    private readonly open: (alertId: string) => void,
  ) {
    window.setInterval(() => this.tick(), 1000);
  }

  /** An incident opened or changed: its match awaits a second person while it is open and not verified twice. */
  incident(incident: Incident): void {
    const identity = incident.identity ?? null;
    if (incident.alert_id === null || identity === null) return;
    if (identity.state !== "awaiting_second") {
      this.settle(incident.alert_id);
      return;
    }
    if (incident.status !== "open" || this.settled.has(incident.alert_id)) {
      this.remove(incident.alert_id);
      return;
    }
    const mine = identity.confirmed_by === this.user.display_name || identity.confirmed_by === this.user.username;
    this.put({
      alert_id: incident.alert_id,
      incident_id: incident.incident_id,
      name: incident.subject?.name ?? this.waiting.get(incident.alert_id)?.name ?? "Subject",
      confirmed_by: identity.confirmed_by,
      confirmed_at: identity.confirmed_at,
      mine,
    });
  }

  /** An alert was decided: a confirmed one (not a silent trial's) awaits its second verification. */
  reviewed(outcome: ReviewOutcome): void {
    if (outcome.decision !== "confirmed" || outcome.silent || this.settled.has(outcome.alert_id)) return;
    if (this.waiting.has(outcome.alert_id)) return; // the incident's entry knows more (its name, its incident)
    this.put({
      alert_id: outcome.alert_id,
      incident_id: null,
      name: outcome.subject_id,
      confirmed_by: outcome.reviewer_name,
      confirmed_at: outcome.reviewed_at,
      mine: outcome.reviewed_by === this.user.username,
    });
  }

  /** A second look was recorded: a verified or refuted identity leaves the list (with its incident's). */
  verified(verification: Verification): void {
    if (verification.identity.state === "awaiting_second") return;
    this.settle(verification.alert_id);
    for (const entry of [...this.waiting.values()]) {
      if (entry.incident_id !== null && entry.incident_id === verification.incident_id) this.settle(entry.alert_id);
    }
  }

  private settle(alertId: string): void {
    this.settled.add(alertId);
    this.remove(alertId);
  }

  private put(entry: Awaiting): void {
    this.waiting.set(entry.alert_id, entry);
    this.render();
  }

  private remove(alertId: string): void {
    if (this.waiting.delete(alertId)) this.render();
  }

  private render(): void {
    const oldest = [...this.waiting.values()].sort((a, b) => Date.parse(a.confirmed_at) - Date.parse(b.confirmed_at));
    const items = oldest.map((entry) => {
      const button = element(
        "button",
        { type: "button", class: `awaiting-item${entry.mine ? " mine" : ""}`, "data-alert": entry.alert_id },
        element("span", { class: "subject" }, entry.name),
        element(
          "span",
          { class: "since", "data-confirmed": entry.confirmed_at },
          `confirmed ${age(secondsSince(entry.confirmed_at))} ago`,
        ),
        element(
          "span",
          { class: "who" },
          entry.mine ? "Confirmed by you: another person must verify it" : `Confirmed by ${entry.confirmed_by}: verify it`,
        ),
      );
      button.addEventListener("click", () => this.open(entry.alert_id));
      return element("li", {}, button);
    });
    this.list.replaceChildren(...items);
    required("#awaiting-section").hidden = items.length === 0;
    const badge = required("#awaiting-count");
    const count = items.length;
    badge.hidden = count === 0;
    setText(badge, `${count} not verified twice`);
  }

  private tick(): void {
    for (const since of this.list.querySelectorAll<HTMLElement>(".since")) {
      setText(since, `confirmed ${age(secondsSince(since.dataset["confirmed"] ?? ""))} ago`);
    }
  }
}
