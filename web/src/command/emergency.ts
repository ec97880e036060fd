/**
 * Officers in danger: each open emergency (the handset's held button, a tracker's SOS) is a red panel above
 * every alert, newest first, with who, since when, what raised it and how old the officer's position is; the
 * alarm repeats until an operator acknowledges; the map centres on the officer and follows them while the
 * emergency is open; the server's nearest units are proposed with one button that sends them all. After the
 * acknowledgement the panel says who has it and where the units sent stand; resolving ends it. The panels stay in
 * view while a review or an incident covers the alert queue.
 */
import { element, required, setText } from "../shared/dom";
import { ApiError, get, post } from "./api";
import { Alarm } from "./cue";
import { age, clock, eta, label, metres, secondsSince } from "./format";
import type { SituationMap } from "./situation_map";
import type {
  DispatchOut,
  DispatchStatusReported,
  EmergencyOut,
  EmergencyPosition,
  EmergencyStatus,
  EmergencyTrigger,
  Incident,
  OrderState,
  PositionReported,
} from "./types";

/** A status never goes back: an older feed entry replayed after a newer answer is ignored. */
const RANK: Record<EmergencyStatus, number> = { open: 0, acknowledged: 1, resolved: 2 };
const ACTIVE = new Set<OrderState>(["sent", "accepted", "en_route", "on_scene"]);
const TRIGGERS: Record<EmergencyTrigger, string> = {
  handset: "Emergency button held on the handset",
  tracker_sos: "SOS button on the tracker",
};
const ANSWERS = new Set<string>(["accepted", "declined", "en_route", "on_scene", "cleared"]);
/** How far an order has come: an answer the feed brought is kept over an older state a slower reply carries. */
const PROGRESS: Record<OrderState, number> = {
  sent: 0,
  accepted: 1,
  declined: 1,
  en_route: 2,
  on_scene: 3,
  cleared: 4,
  cancelled: 4,
};

/** One emergency's panel: built once, then updated in place (keyboard focus stays where the operator left it). */
class EmergencyCard {
  readonly root: HTMLElement;
  readonly ackButton = element(
    "button",
    { type: "button", class: "ack", "data-testid": "emergency-ack" },
    "Acknowledge",
  );
  readonly sendButton = element("button", { type: "button", class: "primary", "data-testid": "emergency-send" });
  readonly followButton = element(
    "button",
    { type: "button", "aria-pressed": "false", "data-testid": "emergency-follow" },
    "Follow on the map",
  );
  readonly resolveButton = element("button", { type: "button", "data-testid": "emergency-resolve" }, "Resolve…");
  readonly confirmResolve = element(
    "button",
    { type: "button", class: "danger", "data-testid": "emergency-resolve-confirm" },
    "Resolve: the officer is safe",
  );
  readonly cancelResolve = element("button", { type: "button" }, "Cancel");
  readonly resolveNotes: HTMLInputElement;
  readonly resolveForm: HTMLElement;
  readonly error = element("p", { class: "error", role: "alert", "data-testid": "emergency-error" });
  private readonly title: HTMLElement;
  private readonly raised = element("span", { "data-testid": "emergency-raised" });
  private readonly trigger = element("span", { "data-testid": "emergency-trigger" });
  private readonly position = element("span", { "data-testid": "emergency-position" });
  private readonly state = element("p", { class: "emergency-state", "data-testid": "emergency-state" });
  private readonly proposedTitle = element("h4", {});
  private readonly proposed = element("ol", { class: "emergency-units", "data-testid": "emergency-proposed" });
  private readonly sentTitle = element("h4", {}, "Units sent");
  private readonly orders = element("ol", { class: "emergency-units", "data-testid": "emergency-orders" });

  constructor(emergencyId: string) {
    const titleId = `emergency-title-${emergencyId}`;
    this.title = element("h3", { id: titleId, class: "emergency-title" });
    this.resolveNotes = element("input", {
      id: `resolve-notes-${emergencyId}`,
      maxlength: "4000",
      "data-testid": "emergency-resolve-notes",
    });
    this.resolveForm = element(
      "div",
      { class: "resolve-form", hidden: "" },
      element("label", { for: this.resolveNotes.id }, "Notes (optional)"),
      this.resolveNotes,
      this.confirmResolve,
      this.cancelResolve,
    );
    this.root = element(
      "article",
      { class: "emergency", "data-testid": "emergency", "data-emergency": emergencyId, "aria-labelledby": titleId },
      this.title,
      element("p", { class: "emergency-facts" }, this.raised, this.trigger, this.position),
      this.state,
      this.proposedTitle,
      this.proposed,
      element("div", { class: "actions" }, this.sendButton, this.ackButton, this.followButton, this.resolveButton),
      this.resolveForm,
      this.sentTitle,
      this.orders,
      this.error,
    );
  }

  /** Show an emergency as it now stands; `toSend` are the proposed units not already on their way. */
  render(emergency: EmergencyOut, position: EmergencyPosition | null, toSend: readonly string[]): void {
    const open = emergency.status !== "resolved";
    this.root.dataset["status"] = emergency.status;
    this.root.dataset["unit"] = emergency.unit_id;
    this.root.classList.toggle("unacknowledged", emergency.status === "open");
    const title = `OFFICER IN DANGER: ${emergency.call_sign} (${emergency.unit_id})`;
    if (this.title.textContent !== title) {
      // The unit id never breaks at its hyphen.
      this.title.replaceChildren(
        `OFFICER IN DANGER: ${emergency.call_sign} `,
        element("span", { class: "nowrap" }, `(${emergency.unit_id})`),
      );
    }
    this.raised.dataset["raised"] = emergency.raised_at;
    setText(this.trigger, TRIGGERS[emergency.trigger]);
    this.root.dataset["positionAt"] = position?.at ?? "";
    const accuracy = position?.accuracy_m ?? null;
    this.root.dataset["positionAccuracy"] = accuracy === null ? "" : String(Math.round(accuracy));
    this.tick();
    if (emergency.status === "open") setText(this.state, "NOT ACKNOWLEDGED: acknowledge to tell the officer");
    else if (emergency.status === "acknowledged") {
      const at = emergency.acknowledged_at === null ? "" : ` at ${clock(emergency.acknowledged_at)}`;
      setText(this.state, `Acknowledged by ${emergency.acknowledged_by ?? "control"}${at}`);
    } else setText(this.state, `Resolved by ${emergency.resolved_by ?? "control"}`);
    this.ackButton.hidden = emergency.status !== "open";

    const proposed = emergency.proposed.map((unit) =>
      element(
        "li",
        { "data-unit": unit.unit_id, class: toSend.includes(unit.unit_id) ? "" : "sent" },
        element("span", { class: "call" }, unit.call_sign),
        element("span", { class: "eta" }, `ETA ${eta(unit.eta_s)}`),
        element("span", { class: "distance" }, metres(unit.distance_m)),
        element("span", { class: "status-tag" }, label(unit.status)),
      ),
    );
    if (proposed.length === 0) proposed.push(element("li", { class: "quiet" }, "No available unit to propose."));
    this.proposed.replaceChildren(...proposed);
    // Once some are on their way, what the server proposes is more help, and the page says so.
    const more = emergency.dispatched.length > 0 ? " more" : "";
    setText(this.proposedTitle, more === "" ? "Nearest units (soonest first)" : "More units (soonest first)");
    const count = toSend.length;
    this.sendButton.disabled = count === 0 || !open;
    setText(this.sendButton, count === 0 ? "No unit to send" : `Send ${count}${more} unit${count === 1 ? "" : "s"}`);

    const orders = emergency.dispatched.map((order) =>
      element(
        "li",
        { "data-unit": order.unit_id, "data-state": order.state, class: `order state-${order.state}` },
        element("span", { class: "call" }, `${order.call_sign}${order.radio_id ? ` (radio ${order.radio_id})` : ""}`),
        element("span", { class: "state" }, label(order.state)),
      ),
    );
    this.sentTitle.hidden = this.orders.hidden = orders.length === 0;
    this.orders.replaceChildren(...orders);
  }

  /** Keep the ages current (once a second). */
  tick(): void {
    const raisedAt = this.raised.dataset["raised"] ?? "";
    setText(this.raised, `Raised ${clock(raisedAt)} (${age(secondsSince(raisedAt))} ago)`);
    const at = this.root.dataset["positionAt"] ?? "";
    const accuracy = this.root.dataset["positionAccuracy"] ?? "";
    const within = accuracy === "" ? "" : ` (±${accuracy} m)`;
    setText(this.position, at === "" ? "No position yet" : `Position ${age(secondsSince(at))} old${within}`);
  }
}

interface Shown {
  emergency: EmergencyOut;
  /** The officer's latest position: the emergency's, or a newer one from the feed. */
  position: EmergencyPosition | null;
  readonly card: EmergencyCard;
}

export class EmergencyBoard {
  private readonly shown = new Map<string, Shown>();
  private readonly alarm = new Alarm();
  /** The emergency the map follows (null: none, or the operator turned following off). */
  private following: string | null = null;

  constructor(
    private readonly list: HTMLElement,
    private readonly count: HTMLElement,
    private readonly announce: HTMLElement,
    private readonly map: SituationMap,
  ) {
    window.setInterval(() => {
      for (const { card } of this.shown.values()) card.tick();
    }, 1000);
  }

  /** Load the emergencies still open (at page load, and after the feed reconnects): the server's list is the truth. */
  async load(): Promise<void> {
    const answer = await get<{ emergencies: EmergencyOut[] }>("/api/v1/emergencies");
    const open = new Set(answer.emergencies.map((emergency) => emergency.emergency_id));
    for (const emergencyId of [...this.shown.keys()]) if (!open.has(emergencyId)) this.drop(emergencyId);
    for (const emergency of answer.emergencies) this.upsert(emergency);
  }

  /** An emergency raised or changed (feed, or this page's own request's answer). */
  upsert(emergency: EmergencyOut): void {
    const known = this.shown.get(emergency.emergency_id);
    if (known !== undefined && RANK[emergency.status] < RANK[known.emergency.status]) return;
    if (emergency.status === "resolved") {
      if (known !== undefined) setText(this.announce, `${emergency.call_sign}'s emergency was resolved.`);
      this.drop(emergency.emergency_id);
      return;
    }
    const position = newer(known?.position ?? null, emergency.position);
    if (known === undefined) {
      const card = this.makeCard(emergency.emergency_id);
      this.shown.set(emergency.emergency_id, { emergency, position, card });
      // The newest emergency takes the map: the operator sees where the officer is without asking.
      this.following = emergency.emergency_id;
      setText(this.announce, `Officer in danger: ${emergency.call_sign}.`);
      if (position !== null) this.map.follow(position.lat, position.lon, true);
      this.render();
      const focused = document.activeElement;
      const typing = [HTMLInputElement, HTMLTextAreaElement, HTMLSelectElement].some((kind) => focused instanceof kind);
      if (!typing && emergency.status === "open") card.ackButton.focus(); // Enter acknowledges
      return;
    }
    known.emergency = { ...emergency, dispatched: furthest(known.emergency.dispatched, emergency.dispatched) };
    known.position = position;
    this.render();
  }

  /** An officer moved (feed): move the mark, and the map when it follows them. */
  moved(position: PositionReported): void {
    if (!position.is_latest) return;
    for (const [emergencyId, shown] of this.shown) {
      if (shown.emergency.unit_id !== position.unit_id) continue;
      const latest = newer(shown.position, position);
      if (latest === shown.position) continue;
      shown.position = latest;
      this.map.markEmergency(emergencyId, shown.emergency.call_sign, position.lat, position.lon);
      if (this.following === emergencyId) this.map.follow(position.lat, position.lon, false);
      shown.card.render(shown.emergency, latest, this.toSend(shown.emergency));
    }
  }

  /** A unit answered an order (feed): an order sent to an officer in danger shows it at once. */
  answered(report: DispatchStatusReported): void {
    if (!ANSWERS.has(report.status)) return;
    for (const shown of this.shown.values()) {
      if (!shown.emergency.dispatched.some((order) => order.dispatch_id === report.dispatch_id)) continue;
      shown.emergency = {
        ...shown.emergency,
        dispatched: shown.emergency.dispatched.map((order) =>
          order.dispatch_id === report.dispatch_id ? { ...order, state: report.status as OrderState } : order,
        ),
      };
      shown.card.render(shown.emergency, shown.position, this.toSend(shown.emergency));
    }
  }

  /** An incident changed (feed): an emergency's incident carries its orders' latest states. */
  incidentChanged(incident: Incident): void {
    for (const shown of this.shown.values()) {
      const ours =
        shown.emergency.incident_id === incident.incident_id || incident.emergency_id === shown.emergency.emergency_id;
      if (!ours) continue;
      const dispatched = furthest(shown.emergency.dispatched, incident.dispatches);
      shown.emergency = { ...shown.emergency, incident_id: incident.incident_id, dispatched };
      shown.card.render(shown.emergency, shown.position, this.toSend(shown.emergency));
    }
  }

  /** The call sign of the officer whose emergency this is, while it is shown. */
  callSign(emergencyId: string): string | undefined {
    return this.shown.get(emergencyId)?.emergency.call_sign;
  }

  private makeCard(emergencyId: string): EmergencyCard {
    const card = new EmergencyCard(emergencyId);
    const act = (path: string, body: object): void => void this.act(emergencyId, path, body);
    card.ackButton.addEventListener("click", () => act("acknowledge", {}));
    card.sendButton.addEventListener("click", () => {
      const shown = this.shown.get(emergencyId);
      if (shown !== undefined) act("dispatch", { unit_ids: this.toSend(shown.emergency), instructions: "" });
    });
    card.followButton.addEventListener("click", () => {
      this.following = this.following === emergencyId ? null : emergencyId;
      const position = this.shown.get(emergencyId)?.position ?? null;
      if (this.following !== null && position !== null) this.map.follow(position.lat, position.lon, true);
      this.render();
    });
    card.resolveButton.addEventListener("click", () => {
      card.resolveForm.hidden = false;
      card.resolveButton.hidden = true;
      card.resolveNotes.focus();
    });
    card.cancelResolve.addEventListener("click", () => {
      card.resolveForm.hidden = true;
      card.resolveButton.hidden = false;
      card.resolveButton.focus();
    });
    card.confirmResolve.addEventListener("click", () => act("resolve", { notes: card.resolveNotes.value }));
    return card;
  }

  private async act(emergencyId: string, path: string, body: object): Promise<void> {
    const shown = this.shown.get(emergencyId);
    if (shown === undefined) return;
    setText(shown.card.error, "");
    try {
      this.upsert(await post<EmergencyOut>(`/api/v1/emergencies/${emergencyId}/${path}`, body));
    } catch (caught) {
      setText(shown.card.error, caught instanceof ApiError ? caught.message : String(caught));
      // A refusal (a unit no longer free, resolved elsewhere) is best answered with how it stands now.
      const now = await get<EmergencyOut>(`/api/v1/emergencies/${emergencyId}`).catch(() => null);
      if (now !== null) this.upsert(now);
    }
  }

  /** The proposed units not already sent to this officer. */
  private toSend(emergency: EmergencyOut): string[] {
    const sent = new Set(emergency.dispatched.filter((order) => ACTIVE.has(order.state)).map((order) => order.unit_id));
    return emergency.proposed.map((unit) => unit.unit_id).filter((unitId) => !sent.has(unitId));
  }

  private drop(emergencyId: string): void {
    const shown = this.shown.get(emergencyId);
    if (shown === undefined) return;
    const hadFocus = shown.card.root.contains(document.activeElement);
    shown.card.root.remove();
    this.map.unmarkEmergency(emergencyId);
    this.shown.delete(emergencyId);
    if (this.following === emergencyId) this.following = this.newest()?.emergency.emergency_id ?? null;
    this.render();
    if (hadFocus) required("#side").focus();
  }

  private newest(): Shown | undefined {
    return this.ordered()[0];
  }

  private ordered(): Shown[] {
    return [...this.shown.values()].sort(
      (a, b) => Date.parse(b.emergency.raised_at) - Date.parse(a.emergency.raised_at),
    );
  }

  private render(): void {
    const ordered = this.ordered();
    for (const shown of ordered) {
      const { emergency, position, card } = shown;
      card.render(emergency, position, this.toSend(emergency));
      card.followButton.setAttribute("aria-pressed", String(this.following === emergency.emergency_id));
      if (position !== null) {
        this.map.markEmergency(emergency.emergency_id, emergency.call_sign, position.lat, position.lon);
      }
    }
    // Newest first; cards are moved only when the order changed (a moved card loses the focus inside it).
    const cards = ordered.map((shown) => shown.card.root);
    if (cards.some((card, i) => this.list.children[i] !== card)) this.list.append(...cards);
    this.list.hidden = cards.length === 0;
    const unacknowledged = ordered.filter((shown) => shown.emergency.status === "open").length;
    if (unacknowledged > 0) this.alarm.start();
    else this.alarm.stop();
    this.count.hidden = cards.length === 0;
    setText(
      this.count,
      cards.length === 0
        ? ""
        : `${cards.length} OFFICER${cards.length === 1 ? "" : "S"} IN DANGER` +
            (unacknowledged > 0 ? ` · ${unacknowledged} not acknowledged` : ""),
    );
  }
}

/** The later of two positions (either may be missing). */
function newer(known: EmergencyPosition | null, arrived: EmergencyPosition | null): EmergencyPosition | null {
  if (known === null) return arrived;
  if (arrived === null) return known;
  return Date.parse(arrived.at) > Date.parse(known.at) ? arrived : known;
}

/** The orders `arrived` lists, each in the furthest state either list knows for it. */
function furthest(known: readonly DispatchOut[], arrived: readonly DispatchOut[]): DispatchOut[] {
  const before = new Map(known.map((order) => [order.dispatch_id, order]));
  return arrived.map((order) => {
    const earlier = before.get(order.dispatch_id);
    return earlier !== undefined && PROGRESS[earlier.state] > PROGRESS[order.state] ? earlier : order;
  });
}
