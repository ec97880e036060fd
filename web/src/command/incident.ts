/**
 * The selected incident: its search area (the default circle around the confirmed alert, which the operator
 * resizes or replaces with a polygon), the units inside it ranked by arrival, the orders sent and their answers
 * as they arrive, an escalation prompt when an order goes unanswered, and closing with an outcome. A subject's
 * incident says whether two people have verified the match (amber until they have) and lets a second person
 * verify it beside the two faces; an arrest can be recorded only once the identity is verified.
 */
import { element, setText } from "../shared/dom";
import { ApiError, get, post, put } from "./api";
import { escalationPrompt } from "./escalation";
import { age, clock, eta, label, metres, secondsSince } from "./format";
import { IdentityCheck, settledFirst } from "./identity";
import { faces } from "./review";
import { areaGeoJson, drawnArea, type DrawnArea, type SituationMap } from "./situation_map";
import type {
  AreaUnit,
  CurrentUser,
  DispatchEscalated,
  Identity,
  Incident,
  PageConfig,
  ReviewDetail,
  UnitStatus,
  Verification,
} from "./types";

const ACTIVE = new Set(["sent", "accepted", "en_route", "on_scene"]);
const OUTCOMES = ["arrest", "not_found", "wrong_person", "other"] as const;
const NOT_VERIFIED_TWICE =
  "The identity is not yet verified by a second person: units sent now are told so, and must not act on the " +
  "identification alone.";

/** What an incident is about, in a few words: the subject sought, or the officer in danger (by call sign). */
export function incidentName(incident: Incident, callSign?: string): string {
  if (incident.subject !== null) return incident.subject.name;
  return callSign === undefined ? "Officer in danger" : `Officer in danger: ${callSign}`;
}

export class IncidentPanel {
  private incident: Incident | null = null;
  private units: AreaUnit[] = [];
  private readonly chosen = new Set<string>();
  private readonly escalations = new Map<string, DispatchEscalated>();
  private readonly title = element("h2", { id: "incident-title" });
  private readonly summary = element("p", { class: "summary", "data-testid": "incident-summary" });
  private readonly radius = element("input", { type: "number", id: "radius", step: "10", "data-testid": "radius" });
  private readonly drawButton = element("button", { type: "button", "data-testid": "draw-polygon" }, "Draw a polygon");
  private readonly finishButton = element("button", { type: "button", hidden: "", "data-testid": "finish-polygon" }, "Finish polygon");
  private readonly cancelButton = element("button", { type: "button", hidden: "" }, "Cancel drawing");
  private readonly drawHint = element("p", { class: "hint", hidden: "" });
  private readonly unitRows = element("tbody", { "data-testid": "area-units" });
  private readonly suggestButton = element("button", { type: "button", "data-testid": "accept-suggestion" }, "Select the suggested units");
  private readonly dispatchButton = element("button", { type: "button", class: "primary", disabled: "", "data-testid": "dispatch" }, "Dispatch");
  private readonly orders = element("ol", { class: "orders", "data-testid": "orders" });
  private readonly prompts = element("div", { class: "prompts", "aria-live": "assertive" });
  private readonly error = element("p", { class: "error", role: "alert", "data-testid": "incident-error" });
  private readonly outcome = element("select", { id: "outcome", "data-testid": "outcome" });
  private readonly notes = element("input", { id: "outcome-notes", maxlength: "4000", "data-testid": "outcome-notes" });
  private readonly arrestNote = element("p", { class: "hint verify-note", hidden: "", "data-testid": "arrest-note" });
  private readonly dispatchNote = element("p", { class: "hint verify-note", hidden: "", "data-testid": "dispatch-note" });
  private readonly identitySlot = element("div", { class: "identity-slot" });
  private check: IdentityCheck | null = null;
  private readonly closeButton = element("button", { type: "button", class: "danger", "data-testid": "close-incident" }, "Close incident");
  private readonly closedBanner = element("p", { class: "closed-banner", role: "status", tabindex: "-1", "data-testid": "closed-banner" });
  /** What only an open incident offers: the area, the units, dispatching, closing. */
  private readonly working = element("div", { class: "working" });
  private refreshing: number | null = null;

  constructor(
    private readonly panel: HTMLElement,
    private readonly map: SituationMap,
    private readonly config: PageConfig,
    private readonly user: CurrentUser,
    private readonly closed: () => void,
  ) {
    this.radius.min = String(config.min_radius_m);
    this.radius.max = String(config.max_radius_m);
    this.outcome.append(element("option", { value: "" }, "Choose the outcome…"));
    for (const value of OUTCOMES) this.outcome.append(element("option", { value }, label(value)));
    const radiusForm = element(
      "form",
      { class: "radius-form" },
      element("label", { for: "radius" }, "Circle radius (m)"),
      this.radius,
      element("button", { type: "submit", "data-testid": "apply-radius" }, "Apply"),
    );
    radiusForm.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.resize(Number(this.radius.value));
    });
    this.drawButton.addEventListener("click", () => this.drawPolygon());
    this.finishButton.addEventListener("click", () => this.map.finishPolygon());
    this.cancelButton.addEventListener("click", () => this.stopDrawing());
    this.map.map.getContainer().addEventListener("corner-added", () =>
      setText(this.drawHint, `${this.map.corners} corner(s). Click the map to add more, then Finish.`),
    );
    this.suggestButton.addEventListener("click", () => {
      this.chosen.clear();
      for (const unit of this.units) if (unit.suggested && this.dispatchable(unit)) this.chosen.add(unit.unit_id);
      this.renderUnits();
    });
    this.dispatchButton.addEventListener("click", () => void this.dispatch([...this.chosen]));
    this.closeButton.addEventListener("click", () => void this.close());
    const back = element("button", { type: "button", class: "link-button" }, "← Back to the queue");
    back.addEventListener("click", () => this.hide());
    panel.replaceChildren(
      back,
      this.title,
      this.summary,
      this.identitySlot,
      this.closedBanner,
      this.prompts,
      element("h3", {}, "Orders"),
      this.orders,
      this.working,
      this.error,
    );
    this.working.append(
      element("h3", {}, "Search area"),
      radiusForm,
      element("div", { class: "draw" }, this.drawButton, this.finishButton, this.cancelButton),
      this.drawHint,
      element("h3", {}, "Units in the area (nearest first)"),
      element(
        "table",
        { class: "units" },
        element(
          "thead",
          {},
          element(
            "tr",
            {},
            ...["Send", "Unit (★ suggested)", "Status", "Radio", "Distance", "ETA"].map((name) => element("th", { scope: "col" }, name)),
          ),
        ),
        this.unitRows,
      ),
      element("div", { class: "actions" }, this.suggestButton, this.dispatchButton),
      this.dispatchNote,
      element("h3", {}, "Close"),
      element(
        "div",
        { class: "close-form" },
        element("label", { for: "outcome" }, "Outcome"),
        this.outcome,
        element("label", { for: "outcome-notes" }, "Notes"),
        this.notes,
        this.closeButton,
      ),
      this.arrestNote,
    );
    window.setInterval(() => this.renderOrders(), 1000);
  }

  /** The incident shown, if any. */
  get current(): Incident | null {
    return this.incident;
  }

  /** Show an incident (just opened, or chosen from the list). */
  show(incident: Incident): void {
    this.incident = incident;
    this.chosen.clear();
    this.escalations.clear();
    this.panel.hidden = false;
    this.panel.dataset["incident"] = incident.incident_id;
    setText(this.error, "");
    this.render();
    void this.refreshUnits();
  }

  hide(): void {
    this.stopDrawing();
    this.incident = null;
    this.panel.hidden = true;
    this.map.showArea(null, null, null);
    this.map.highlight(new Set());
    this.closed();
  }

  /** The incident changed (feed): redraw what it shows; its area may have moved. */
  update(incident: Incident): void {
    if (this.incident?.incident_id !== incident.incident_id) return;
    // The feed may bring an older state after this page's own newer change: keep the newer.
    if (incident.target.revision < this.incident.target.revision) return;
    const areaMoved = JSON.stringify(incident.area) !== JSON.stringify(this.incident.area) ||
      incident.target.revision !== this.incident.target.revision;
    this.incident = { ...incident, identity: settledFirst(this.incident.identity, incident.identity) };
    this.render(areaMoved);
    if (areaMoved) void this.refreshUnits();
  }

  /** A second look at a match was recorded (here or elsewhere: the feed's `alert.verified`). */
  verified(verification: Verification): void {
    const incident = this.incident;
    if (incident === null) return;
    // The incident's identity may be a later sighting's (the one whose confirmation moved its target).
    const ours = verification.incident_id === incident.incident_id || verification.alert_id === incident.alert_id;
    if (!ours) return;
    this.incident = { ...incident, identity: verification.identity };
    this.check?.verified(verification);
    this.renderIdentity();
  }

  /** An order went unanswered (or was declined): prompt the operator with the proposed replacement. */
  escalate(escalation: DispatchEscalated): void {
    if (this.incident?.incident_id !== escalation.incident_id) return;
    this.escalations.set(escalation.dispatch_id, escalation);
    this.renderPrompts();
  }

  /** A unit's status changed (feed): the list says so at once; the ranking follows with the next refresh. */
  unitChanged(unitId: string, status: UnitStatus): void {
    const shown = this.units.findIndex((unit) => unit.unit_id === unitId);
    if (shown >= 0 && this.units[shown]?.status !== status) {
      this.units = this.units.map((unit, i) => (i === shown ? { ...unit, status } : unit));
      this.renderUnits();
    }
    this.unitsMoved();
  }

  /** A unit moved or changed status: the ranking may have changed (at most once every 2 s). */
  unitsMoved(): void {
    if (this.incident === null || this.refreshing !== null) return;
    this.refreshing = window.setTimeout(() => {
      this.refreshing = null;
      void this.refreshUnits();
    }, 2000);
  }

  /** Reload the incident (after a unit answered). */
  async reload(): Promise<void> {
    if (this.incident === null) return;
    this.update(await get<Incident>(`/api/v1/incidents/${this.incident.incident_id}`));
  }

  private render(redrawArea = true): void {
    const incident = this.incident;
    if (incident === null) return;
    setText(this.title, `Incident: ${incidentName(incident)}`);
    const seen = incident.subject === null ? "last position" : `${label(incident.subject.category)} · last seen`;
    setText(
      this.summary,
      `${seen} ${clock(incident.target.at)} at ` +
        `${incident.target.lat.toFixed(5)}, ${incident.target.lon.toFixed(5)} · opened by ${incident.opened_by}` +
        (incident.status === "closed" ? ` · CLOSED (${label(incident.outcome ?? "other")})` : ""),
    );
    this.panel.dataset["status"] = incident.status;
    const area = drawnArea(incident.area);
    // A polygon has no radius: the field stays empty until the operator goes back to a circle.
    this.radius.value = area?.kind === "circle" ? String(Math.round(area.radius_m)) : "";
    this.radius.placeholder = area?.kind === "polygon" ? "polygon" : "";
    const open = incident.status === "open";
    if (redrawArea || !open) this.map.showArea(incident.target, area, open ? (radius) => void this.resize(radius) : null);
    const closed = incident.status === "closed";
    this.working.hidden = closed;
    this.closedBanner.hidden = !closed;
    setText(this.closedBanner, closed ? `Closed: ${label(incident.outcome ?? "other")}. Open orders were stood down.` : "");
    this.renderIdentity();
    this.renderOrders();
    this.renderPrompts();
    this.renderUnits();
  }

  /** The identity line (and the second verification, where this user may give it) and the arrest it allows. */
  private renderIdentity(): void {
    const incident = this.incident;
    if (incident === null) return;
    const identity = incident.identity ?? null;
    if (incident.alert_id === null || identity === null) {
      this.check = null;
      this.identitySlot.replaceChildren();
    } else if (this.check?.alertId !== incident.alert_id) {
      const check = new IdentityCheck(incident.alert_id, identity);
      this.check = check;
      this.identitySlot.replaceChildren(check.element);
      if (identity.state === "awaiting_second" && incident.status === "open") void this.offerVerification(check);
    } else {
      this.check.changed(identity);
    }
    // Units may be sent on the first verification: the operator is told, as the orders tell the units.
    const first = identity?.state === "awaiting_second";
    this.dispatchNote.hidden = !first;
    setText(this.dispatchNote, first ? NOT_VERIFIED_TWICE : "");
    this.renderArrest(identity);
  }

  /** Whether the signed-in user confirmed the match decides whether they may verify it; the faces come along. */
  private async offerVerification(check: IdentityCheck): Promise<void> {
    try {
      const detail = await get<ReviewDetail>(`/api/v1/reviews/${check.alertId}`);
      const mine = detail.reviewed_by === this.user.username;
      check.offerTo({
        mine,
        faces: mine ? null : faces(detail),
        verifications: detail.verifications ?? [],
        recorded: (verification) => this.verified(verification),
      });
    } catch (caught) {
      this.fail(caught);
    }
  }

  /** An arrest needs the identity verified by two people (the server refuses it otherwise): say so up front. */
  private renderArrest(identity: Identity | null): void {
    const arrest = this.outcome.querySelector<HTMLOptionElement>("option[value=arrest]");
    if (arrest === null) return;
    const why =
      identity === null || identity.state === "verified"
        ? ""
        : identity.state === "refuted"
          ? "Arrest cannot be recorded: the identity was refuted (not the person)."
          : "Arrest can be recorded only once a second person has verified the identity.";
    arrest.disabled = why !== "";
    setText(arrest, why === "" ? label("arrest") : `${label("arrest")} (identity not verified twice)`);
    if (arrest.disabled && this.outcome.value === "arrest") this.outcome.value = "";
    this.arrestNote.hidden = why === "";
    setText(this.arrestNote, why);
  }

  private dispatchable(unit: AreaUnit): boolean {
    const sent = this.incident?.dispatches.some((order) => order.unit_id === unit.unit_id && ACTIVE.has(order.state));
    return !sent && unit.status === "available" && this.incident?.status === "open";
  }

  private renderUnits(): void {
    const rows = this.units.map((unit) => {
      const box = element("input", { type: "checkbox", id: `send-${unit.unit_id}`, "data-unit": unit.unit_id });
      box.checked = this.chosen.has(unit.unit_id);
      box.disabled = !this.dispatchable(unit);
      box.addEventListener("change", () => {
        if (box.checked) this.chosen.add(unit.unit_id);
        else this.chosen.delete(unit.unit_id);
        this.renderUnits();
      });
      return element(
        "tr",
        { "data-unit": unit.unit_id, class: `status-${unit.status}${unit.suggested ? " suggested" : ""}` },
        element("td", {}, box),
        element(
          "td",
          {},
          element("label", { for: `send-${unit.unit_id}`, class: "call" }, unit.call_sign),
          unit.suggested ? element("span", { class: "visually-hidden" }, " (suggested)") : null,
          unit.stale ? element("small", { class: "stale-note" }, ` position ${age(unit.position_age_s)} old`) : null,
        ),
        element("td", {}, element("span", { class: `status-tag status-${unit.status}` }, label(unit.status))),
        element("td", {}, unit.radio_id ?? "—"),
        element("td", {}, metres(unit.distance_m)),
        element("td", {}, eta(unit.eta_s)),
      );
    });
    if (rows.length === 0) {
      rows.push(element("tr", {}, element("td", { colspan: "6", class: "quiet" }, "No unit is inside the area. Widen it.")));
    }
    this.unitRows.replaceChildren(...rows);
    for (const unitId of [...this.chosen]) {
      const unit = this.units.find((candidate) => candidate.unit_id === unitId);
      if (unit === undefined || !this.dispatchable(unit)) this.chosen.delete(unitId);
    }
    const count = this.chosen.size;
    this.dispatchButton.disabled = count === 0;
    setText(this.dispatchButton, count === 0 ? "Dispatch" : `Dispatch ${count} unit${count === 1 ? "" : "s"}`);
    const open = this.incident?.status === "open";
    this.map.highlight(new Set(open ? this.units.map((unit) => unit.unit_id) : []));
  }

  private renderOrders(): void {
    const incident = this.incident;
    if (incident === null) return;
    const items = incident.dispatches.map((order) => {
      const waiting = order.state === "sent";
      const overdue = waiting && (order.overdue || secondsSince(order.sent_at) > this.config.ack_timeout_s);
      const note = waiting
        ? `sent ${age(secondsSince(order.sent_at))} ago${overdue ? " — NO ANSWER" : ", awaiting acknowledgement"}`
        : `${order.answered_at ? `answered ${clock(order.answered_at)}` : ""}${order.reason ? ` — ${order.reason}` : ""}`;
      return element(
        "li",
        { "data-unit": order.unit_id, "data-state": order.state, class: `order state-${order.state}${overdue ? " overdue" : ""}` },
        element("span", { class: "call" }, `${order.call_sign}${order.radio_id ? ` (radio ${order.radio_id})` : ""}`),
        element("span", { class: "state" }, label(order.state)),
        element("span", { class: "note" }, note),
      );
    });
    if (items.length === 0) items.push(element("li", { class: "quiet" }, "No unit sent yet."));
    this.orders.replaceChildren(...items);
  }

  private renderPrompts(): void {
    const prompts = [...this.escalations.values()]
      .filter(
        (escalation) =>
          escalation.why === "declined" ||
          this.incident?.dispatches.some((o) => o.dispatch_id === escalation.dispatch_id && o.state === "sent"),
      )
      .map((escalation) =>
        escalationPrompt(escalation, {
          send: (unitId) => {
            this.escalations.delete(escalation.dispatch_id);
            void this.dispatch([unitId]);
          },
          wait: () => {
            this.escalations.delete(escalation.dispatch_id);
            this.renderPrompts();
          },
        }),
      );
    this.prompts.replaceChildren(...prompts);
  }

  private async refreshUnits(): Promise<void> {
    const incident = this.incident;
    if (incident === null) return;
    try {
      const answer = await post<{ units: AreaUnit[] }>("/api/v1/units/in-area", {
        area: incident.area,
        target: { lat: incident.target.lat, lon: incident.target.lon },
      });
      if (this.incident?.incident_id !== incident.incident_id) return;
      this.units = answer.units;
      this.panel.dataset["unitsRevision"] = String(Number(this.panel.dataset["unitsRevision"] ?? "0") + 1);
      this.renderUnits();
    } catch (caught) {
      this.fail(caught);
    }
  }

  private async resize(radius: number): Promise<void> {
    const area = this.incident ? drawnArea(this.incident.area) : null;
    if (this.incident === null || !Number.isFinite(radius)) return;
    const bounded = Math.min(this.config.max_radius_m, Math.max(this.config.min_radius_m, radius));
    const centre = area?.kind === "circle" ? area : { lat: this.incident.target.lat, lon: this.incident.target.lon };
    await this.setArea({ kind: "circle", lat: centre.lat, lon: centre.lon, radius_m: bounded });
  }

  private drawPolygon(): void {
    this.drawButton.hidden = true;
    this.finishButton.hidden = this.cancelButton.hidden = this.drawHint.hidden = false;
    setText(this.drawHint, "Click the map at each corner of the area, then Finish.");
    this.map.startPolygon((corners) => {
      this.stopDrawing();
      void this.setArea({ kind: "polygon", corners });
    });
  }

  private stopDrawing(): void {
    this.map.cancelPolygon();
    this.drawButton.hidden = false;
    this.finishButton.hidden = this.cancelButton.hidden = this.drawHint.hidden = true;
  }

  private async setArea(area: DrawnArea): Promise<void> {
    if (this.incident === null) return;
    setText(this.error, "");
    try {
      const changed = await put<Incident>(`/api/v1/incidents/${this.incident.incident_id}/area`, {
        area: areaGeoJson(area),
      });
      this.incident = changed;
      this.render();
      await this.refreshUnits();
    } catch (caught) {
      this.fail(caught);
      this.render();
    }
  }

  private async dispatch(unitIds: string[]): Promise<void> {
    if (this.incident === null || unitIds.length === 0) return;
    this.dispatchButton.disabled = true;
    setText(this.error, "");
    try {
      const sent = await post<Incident>(`/api/v1/incidents/${this.incident.incident_id}/dispatches`, {
        unit_ids: unitIds,
      });
      this.chosen.clear();
      this.incident = sent;
      this.render(false);
    } catch (caught) {
      this.fail(caught);
      this.renderUnits();
    }
  }

  private async close(): Promise<void> {
    if (this.incident === null) return;
    if (this.outcome.value === "") {
      setText(this.error, "Choose the outcome before closing the incident.");
      this.outcome.focus();
      return;
    }
    setText(this.error, "");
    try {
      const closed = await post<Incident>(`/api/v1/incidents/${this.incident.incident_id}/close`, {
        outcome: this.outcome.value,
        notes: this.notes.value,
      });
      this.incident = closed;
      this.render(false);
      this.panel.scrollIntoView({ block: "start" });
      this.closedBanner.focus();
    } catch (caught) {
      this.fail(caught);
    }
  }

  private fail(caught: unknown): void {
    setText(this.error, caught instanceof ApiError ? caught.message : String(caught));
  }
}
