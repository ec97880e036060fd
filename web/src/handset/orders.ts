/**
 * Dispatch order cards: the target and search area on a small map with the officer's position, distance and
 * bearing, the subject and the match evidence (or, on an officer-in-danger order, in red, the officer's call
 * sign, and no faces), and the answer buttons. A tap is posted to the agent, which
 * stores it in the outbox before it answers; the card then shows it as sent, and as delivered once control
 * has acknowledged it.
 *
 * Until two people have verified a subject order's identity, its card opens with a banner saying so, the camera's
 * crop beside the watchlist photo, and three verdict buttons (same person, not the person, cannot tell), all on
 * the first screen: the officer compares before any stop. The buttons look alike, so that none is suggested.
 * After the tap the card says what the officer verified; once control re-sends the order with the second
 * verifier, it says who verified and who confirmed the identity.
 */
import * as L from "leaflet";

import { element, required, setText } from "../shared/dom";
import { createMap, type MapConfig } from "../shared/map";
import { face } from "./alerts";
import {
  clock,
  type DispatchState,
  type Gps,
  type IdentityVerdict,
  type Order,
  STATE_WORDS,
  VERDICT_WORDS,
  words,
} from "./screen";

/** Sends an answer; rejects with a message for the officer when the agent refuses it. */
export type SendAnswer = (dispatchId: string, status: DispatchState, reason: string) => Promise<void>;

/** Sends the officer's verdict on an order's match; rejects with a message for the officer when refused. */
export type SendVerdict = (dispatchId: string, verdict: IdentityVerdict) => Promise<void>;

const BUTTONS: readonly [DispatchState, string][] = [
  ["accepted", "Accept"],
  ["declined", "Decline"],
  ["en_route", "En route"],
  ["on_scene", "On scene"],
  ["cleared", "Clear"],
];
const VERDICT_BUTTONS: readonly [IdentityVerdict, string][] = [
  ["same_person", "Same person"],
  ["not_the_person", "Not the person"],
  ["cannot_tell", "Cannot tell"],
];
const UNVERIFIED = "IDENTITY NOT YET VERIFIED BY A SECOND PERSON — compare before any stop";
const DECLINE_REASONS = ["Committed to another incident", "Cannot reach the area in time", "Officer safety"];
const COMPASS = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"];

/** The order cards in one list, keyed by dispatch id. */
export class OrderCards {
  private readonly cards = new Map<string, OrderCard>();

  constructor(
    private readonly list: HTMLElement,
    private readonly send: SendAnswer,
    private readonly sendVerdict: SendVerdict,
  ) {}

  /** Draw every map's base layer again (after a change of theme). */
  redrawMaps(): void {
    for (const card of this.cards.values()) card.redrawMap();
  }

  /** Show `orders` (open first); returns the ids of orders new to the screen or changed by control. */
  render(orders: readonly Order[], config: MapConfig, gps: Gps | null): string[] {
    const changed: string[] = [];
    const wanted = new Set(orders.map((order) => order.dispatch_id));
    for (const [id, card] of this.cards) {
      if (!wanted.has(id)) {
        card.remove();
        this.cards.delete(id);
      }
    }
    let previous: HTMLElement | null = null;
    for (const order of orders) {
      let card = this.cards.get(order.dispatch_id);
      if (card === undefined) {
        card = new OrderCard(order, this.send, this.sendVerdict);
        this.cards.set(order.dispatch_id, card);
      }
      const view = card.root;
      if (previous === null ? this.list.firstElementChild !== view : previous.nextElementSibling !== view) {
        if (previous === null) this.list.prepend(view);
        else previous.after(view);
      }
      if (card.update(order, config, gps)) changed.push(order.dispatch_id);
      previous = view;
    }
    return changed;
  }
}

class OrderCard {
  readonly root: HTMLElement;
  private order: Order;
  private shownRevision = 0;
  private map: L.Map | null = null;
  private readonly layers = L.layerGroup();
  private officer: L.CircleMarker | null = null;
  private pending: DispatchState | null = null;
  private pendingVerdict: IdentityVerdict | null = null;

  constructor(
    order: Order,
    private readonly send: SendAnswer,
    private readonly sendVerdict: SendVerdict,
  ) {
    this.order = order;
    this.root = element(
      "article",
      {
        class: order.emergency === null ? "card order" : "card order officer-in-danger",
        "data-dispatch-id": order.dispatch_id,
        "data-testid": "order-card",
        "data-kind": order.emergency === null ? "subject" : "emergency",
      },
      element(
        "div",
        { class: "card-title" },
        element("span", {}, order.emergency === null ? "DISPATCH ORDER" : "OFFICER IN DANGER"),
        element("time", {}, clock(order.received_at)),
      ),
      element("p", { class: "moved", hidden: "" }),
      element("p", { class: "stood-down", role: "alert", hidden: "" }),
      element(
        "p",
        { class: "unverified", role: "alert", "data-testid": "unverified", hidden: "" },
        element("span", { class: "headline" }, UNVERIFIED),
        element("span", { class: "confirmed" }),
      ),
      element("div", { class: "faces" }),
      element(
        "div",
        { class: "verdicts", "data-testid": "verdicts", "aria-label": "Is it the same person?", hidden: "" },
        ...VERDICT_BUTTONS.map(([verdict, label]) => this.verdictButton(verdict, label)),
      ),
      element("p", { class: "error verdict-error", role: "alert", hidden: "" }),
      element("p", { class: "your-verdict", role: "status", "data-testid": "your-verdict", hidden: "" }),
      element("p", { class: "verified", role: "status", "data-testid": "verified", hidden: "" }),
      element("h2", { class: "name" }),
      element("p", { class: "category" }),
      element("p", { class: "risk" }),
      element("p", { class: "instructions" }),
      element("div", { class: "map", "aria-label": "Target and search area" }),
      element("p", { class: "route" }),
      element("p", { class: "evidence" }),
      element("div", { class: "buttons" }, ...BUTTONS.map(([status, label]) => this.button(status, label))),
      this.declineForm(),
      element("p", { class: "error answer-error", role: "alert", hidden: "" }),
      element("ol", { class: "answers", "aria-label": "Your answers" }),
    );
  }

  redrawMap(): void {
    this.map?.eachLayer((layer) => {
      if (layer instanceof L.GridLayer) layer.redraw();
    });
  }

  remove(): void {
    this.map?.remove();
    this.root.remove();
  }

  /** Show the order's current state; true when it is new or control changed it (worth a cue). */
  update(order: Order, config: MapConfig, gps: Gps | null): boolean {
    this.order = order;
    const moved = order.revision !== this.shownRevision;
    const root = this.root;
    root.dataset["state"] = order.stood_down ? "stood_down" : (order.state ?? "new");
    root.dataset["revision"] = String(order.revision);
    const movedNote = required(".moved", root);
    movedNote.hidden = !order.target_moved;
    setText(movedNote, `UPDATED by control: the target moved (update ${order.revision})`);
    const stoodDown = required(".stood-down", root);
    stoodDown.hidden = !order.stood_down;
    setText(stoodDown, `STOOD DOWN by control${order.stand_down_reason === "" ? "" : `: ${order.stand_down_reason}`}`);
    if (order.emergency !== null) {
      setText(required(".name", root), `Officer in danger: ${order.emergency.call_sign}`);
      setText(required(".category", root), `Unit ${order.emergency.unit_id}`);
      setText(required(".risk", root), `Emergency raised ${clock(order.emergency.raised_at)}`);
    } else if (order.subject !== null) {
      setText(required(".name", root), order.subject.name);
      setText(required(".category", root), words(order.subject.category));
      setText(required(".risk", root), order.subject.risk_notes);
    }
    setText(required(".instructions", root), order.instructions);
    setText(required(".route", root), routeText(order));
    if (moved) this.showEvidence(order);
    this.showMap(order, config, gps, moved);
    this.showVerification();
    this.showButtons();
    this.showAnswers();
    this.shownRevision = order.revision;
    return moved;
  }

  private showEvidence(order: Order): void {
    const evidence = order.evidence;
    const faces = required(".faces", this.root);
    const text = required(".evidence", this.root);
    faces.hidden = text.hidden = evidence === null;
    if (evidence === null) return;
    const reference = evidence.enrolled_image ?? order.subject?.photo_image ?? null;
    faces.replaceChildren(
      face(evidence.probe_image, "Camera saw", "probe"),
      ...(reference === null ? [] : [face(reference, "Watchlist photo", "enrolled")]),
    );
    setText(
      text,
      `Seen ${clock(evidence.seen_at)} · match distance ${evidence.distance.toFixed(3)} against threshold ` +
        `${evidence.threshold.toFixed(3)}`,
    );
  }

  private showMap(order: Order, config: MapConfig, gps: Gps | null, moved: boolean): void {
    if (this.map === null) {
      this.map = createMap(required(".map", this.root), config, { zoomControl: false });
      this.layers.addTo(this.map);
    }
    const map = this.map;
    if (moved) {
      // The view first: Leaflet cannot draw a shape on a map that has none yet.
      const area = L.geoJSON(order.area, { style: { className: "area", weight: 2 } });
      const bounds = area.getBounds().extend([order.target.lat, order.target.lon]);
      if (gps !== null) bounds.extend([gps.lat, gps.lon]);
      map.invalidateSize();
      map.fitBounds(bounds, { padding: [18, 18], maxZoom: 18 });
      this.layers.clearLayers();
      area.addTo(this.layers);
      L.circleMarker([order.target.lat, order.target.lon], { radius: 9, className: "target" }).addTo(this.layers);
    }
    if (gps !== null) {
      this.officer ??= L.circleMarker([gps.lat, gps.lon], { radius: 7, className: "officer" });
      this.officer.setLatLng([gps.lat, gps.lon]).addTo(map);
    } else {
      this.officer?.remove();
    }
  }

  /** The second verification: the banner and buttons while two people have not verified it, then who did. */
  private showVerification(): void {
    const root = this.root;
    const order = this.order;
    const evidence = order.evidence;
    const verdict = order.verdict;
    if (this.pendingVerdict !== null && verdict?.verdict === this.pendingVerdict) this.pendingVerdict = null;
    const unverified = evidence !== null && evidence.verified_by === null;
    root.dataset["verification"] = evidence === null ? "none" : unverified ? "unverified" : "verified";
    required(".unverified", root).hidden = !unverified;
    setText(
      required(".unverified .confirmed", root),
      evidence === null || evidence.confirmed_by === null ? "" : ` (confirmed by ${evidence.confirmed_by})`,
    );
    const buttons = required(".verdicts", root);
    buttons.hidden = !unverified || order.verdicts_allowed.length === 0;
    for (const button of buttons.querySelectorAll<HTMLButtonElement>("button")) {
      const choice = button.dataset["verdict"] as IdentityVerdict;
      button.disabled = this.pendingVerdict !== null || !order.verdicts_allowed.includes(choice);
      button.classList.toggle("done", verdict?.verdict === choice);
    }
    const yours = required(".your-verdict", root);
    const shown = this.pendingVerdict ?? verdict?.verdict ?? null;
    yours.hidden = evidence === null || shown === null;
    if (shown !== null) {
      const delivery = this.pendingVerdict !== null ? "sending" : verdict?.delivered === true ? "delivered" : "sent";
      yours.dataset["verdict"] = shown;
      yours.dataset["delivery"] = delivery;
      yours.dataset["waiting"] = String(unverified);
      const waiting = unverified ? " — waiting for control" : "";
      const note = { sending: " (sending…)", sent: " (not yet delivered: waiting for the link)", delivered: "" }[delivery];
      setText(yours, `You verified: ${VERDICT_WORDS[shown]}${waiting}${note}`);
    }
    const verified = required(".verified", root);
    verified.hidden = evidence === null || evidence.verified_by === null;
    if (evidence !== null && evidence.verified_by !== null) {
      const confirmed = evidence.confirmed_by === null ? "" : ` and confirmed by ${evidence.confirmed_by}`;
      setText(verified, `Identity verified by ${evidence.verified_by}${confirmed}`);
    }
  }

  private verdictButton(verdict: IdentityVerdict, label: string): HTMLButtonElement {
    const button = element("button", { type: "button", "data-verdict": verdict, class: "verdict-choice" }, label);
    button.addEventListener("click", () => void this.verify(verdict));
    return button;
  }

  private async verify(verdict: IdentityVerdict): Promise<void> {
    const error = required(".verdict-error", this.root);
    error.hidden = true;
    this.pendingVerdict = verdict;
    this.showVerification();
    try {
      await this.sendVerdict(this.order.dispatch_id, verdict);
    } catch (problem) {
      this.pendingVerdict = null;
      setText(error, problem instanceof Error ? problem.message : String(problem));
      error.hidden = false;
      this.showVerification();
    }
  }

  private button(status: DispatchState, label: string): HTMLButtonElement {
    const button = element("button", { type: "button", "data-answer": status, class: `answer ${status}` }, label);
    button.addEventListener("click", () => {
      if (status === "declined") this.openDecline(true);
      else void this.answer(status, "");
    });
    return button;
  }

  private declineForm(): HTMLElement {
    const reason = element("textarea", { name: "reason", rows: "2", maxlength: "2000", placeholder: "Reason" });
    const presets = DECLINE_REASONS.map((text) => {
      const preset = element("button", { type: "button", class: "preset" }, text);
      preset.addEventListener("click", () => (reason.value = text));
      return preset;
    });
    const sendButton = element("button", { type: "submit", class: "answer declined" }, "Send decline");
    const back = element("button", { type: "button", class: "back" }, "Back");
    back.addEventListener("click", () => this.openDecline(false));
    const form = element("form", { class: "decline", hidden: "" }, element("p", {}, "Why decline?"), ...presets, reason, sendButton, back);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (reason.value.trim() === "") {
        reason.focus();
        return;
      }
      void this.answer("declined", reason.value.trim()).then(() => this.openDecline(false));
    });
    return form;
  }

  private openDecline(open: boolean): void {
    required(".decline", this.root).hidden = !open;
    required(".buttons", this.root).hidden = open;
  }

  private async answer(status: DispatchState, reason: string): Promise<void> {
    const error = required(".answer-error", this.root);
    error.hidden = true;
    this.pending = status;
    this.showButtons();
    try {
      await this.send(this.order.dispatch_id, status, reason);
      this.showAnswers();
    } catch (problem) {
      this.pending = null;
      setText(error, problem instanceof Error ? problem.message : String(problem));
      error.hidden = false;
      this.showButtons();
    }
  }

  private showButtons(): void {
    const order = this.order;
    if (this.pending !== null && order.answers.some((answer) => answer.status === this.pending)) this.pending = null;
    for (const button of this.root.querySelectorAll<HTMLButtonElement>(".buttons button")) {
      const status = button.dataset["answer"] as DispatchState;
      button.disabled = this.pending !== null || !order.allowed.includes(status);
      button.classList.toggle("done", order.answers.some((answer) => answer.status === status));
    }
  }

  private showAnswers(): void {
    const list = required(".answers", this.root);
    const items = this.order.answers.map((answer) =>
      element(
        "li",
        { "data-status": answer.status, "data-delivery": answer.delivered ? "delivered" : "sent" },
        `${STATE_WORDS[answer.status]} · ${clock(answer.at)} · `,
        element("strong", {}, answer.delivered ? "delivered to control" : "sent, waiting for the link"),
      ),
    );
    if (this.pending !== null) {
      items.push(element("li", { "data-status": this.pending, "data-delivery": "sending" }, `${STATE_WORDS[this.pending]} · sending…`));
    }
    list.replaceChildren(...items);
  }
}

function routeText(order: Order): string {
  const route = order.route;
  if (route === null) return "No GPS fix: distance and bearing unknown";
  const distance = route.distance_m < 1000 ? `${Math.round(route.distance_m)} m` : `${(route.distance_m / 1000).toFixed(1)} km`;
  const bearing = Math.round(route.bearing_deg) % 360;
  const compass = COMPASS[Math.round(route.bearing_deg / 45) % 8] ?? "";
  return `${distance} away · bearing ${String(bearing).padStart(3, "0")}° ${compass}`;
}
