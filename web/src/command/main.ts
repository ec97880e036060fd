/**
 * The control-room page `vigil serve` serves at /control/: sign-in (with the second factor), then the views the
 * user's roles allow: operations (officers in danger above everything, map, alert queue, matches awaiting their
 * second verification, review, incident and dispatch) for operators and supervisors, watchlists for operators,
 * supervisors and auditors, the audit trail for auditors.
 */
import { element, required, setText } from "../shared/dom";
import { ApiError, get, post, SIGNED_OUT } from "./api";
import { showAudit } from "./audit";
import { AwaitingVerification } from "./awaiting";
import { armCue } from "./cue";
import { EmergencyBoard } from "./emergency";
import { FeedLink } from "./feed";
import { label } from "./format";
import { IdentityCheck, identityTag, settledFirst } from "./identity";
import { IncidentPanel, incidentName } from "./incident";
import { AlertQueue } from "./queue";
import { showReview } from "./review";
import { SituationMap } from "./situation_map";
import { UnitBoard } from "./unit_board";
import type {
  CurrentUser,
  DispatchEscalated,
  DispatchStatusReported,
  EmergencyOut,
  FeedEntry,
  Incident,
  PageConfig,
  PendingAlert,
  PositionReported,
  ReviewOutcome,
  Role,
  Unit,
  UnitChanged,
  Verification,
} from "./types";
import { showWatchlists } from "./watchlists";

const LARGE_KEY = "vigil.control.large";
type View = "operations" | "watchlists" | "audit";

/** The views, in the order a user's first allowed one is chosen: an auditor lands on the audit trail. */
const VIEWS: Record<View, readonly Role[]> = {
  operations: ["operator", "supervisor"],
  audit: ["auditor"],
  watchlists: ["operator", "supervisor", "auditor"],
};

function allowed(user: CurrentUser, view: View): boolean {
  return VIEWS[view].some((role) => user.roles.includes(role));
}

function notice(text: string): void {
  const box = required("#notice");
  setText(box, text);
  box.hidden = text === "";
}

/** Tell the operator what went wrong, in the server's words where it gave them. */
function failed(caught: unknown): void {
  notice(caught instanceof ApiError ? caught.message : String(caught));
}

function setLarge(large: boolean, map: SituationMap | null): void {
  document.body.classList.toggle("large", large);
  required("#large-type").setAttribute("aria-pressed", String(large));
  window.localStorage.setItem(LARGE_KEY, large ? "1" : "0");
  map?.refresh();
}

function showSignIn(message = ""): void {
  required("#app").hidden = true;
  required("#sign-in").hidden = false;
  setText(required("#sign-in-error"), message);
  required<HTMLInputElement>("#sign-in-form input[name=username]").focus();
}

async function signIn(form: HTMLFormElement): Promise<void> {
  const data = new FormData(form);
  const code = String(data.get("code") ?? "").trim();
  const body: Record<string, string> = {
    username: String(data.get("username") ?? ""),
    password: String(data.get("password") ?? ""),
  };
  if (code !== "") body["code"] = code;
  try {
    await post("/api/v1/auth/login", { ...body, delivery: "cookie" });
  } catch (caught) {
    setText(required("#sign-in-error"), caught instanceof ApiError ? caught.message : String(caught));
    return;
  }
  form.reset();
  window.location.reload();
}

/** Operations: the map, the queue, the review and the incident, kept live by the feed. */
async function startOperations(config: PageConfig, user: CurrentUser): Promise<SituationMap> {
  const map = new SituationMap(required("#map"), config.map);
  const reviewPanel = required("#review");
  const queuePanel = required("#queue-panel");
  const incidentList = required("#incident-list");
  const openIncidents = new Map<string, Incident>();
  const emergencies = new EmergencyBoard(
    required("#emergencies"),
    required("#emergency-count"),
    required("#emergency-announce"),
    map,
  );

  const showQueue = (): void => {
    reviewPanel.hidden = true;
    queuePanel.hidden = false;
    queue.select(null);
  };
  const incident = new IncidentPanel(required("#incident"), map, config, user, () => {
    queuePanel.hidden = false;
    renderIncidents();
  });
  const renderIncidents = (): void => {
    const items = [...openIncidents.values()].map((open) => {
      const callSign = open.emergency_id === null ? undefined : emergencies.callSign(open.emergency_id);
      const category = open.subject === null ? [] : [label(open.subject.category)];
      const identity = open.identity ?? null;
      const button = element(
        "button",
        { type: "button", class: "incident-item", "data-incident": open.incident_id },
        [incidentName(open, callSign), ...category, `${open.dispatches.length} order(s)`].join(" · "),
        identity === null
          ? null
          : element("span", { class: `identity-tag ${identity.state}`, "data-state": identity.state }, identityTag(identity)),
      );
      button.addEventListener("click", () => {
        reviewPanel.hidden = queuePanel.hidden = true;
        incident.show(open);
      });
      return element("li", {}, button);
    });
    if (items.length === 0) items.push(element("li", { class: "quiet" }, "None."));
    incidentList.replaceChildren(...items);
  };
  const remember = (changed: Incident): void => {
    const known = openIncidents.get(changed.incident_id)?.identity ?? null;
    const newest = { ...changed, identity: settledFirst(known, changed.identity) };
    if (newest.status === "open") openIncidents.set(newest.incident_id, newest);
    else openIncidents.delete(newest.incident_id);
    renderIncidents();
    incident.update(newest);
    awaiting.incident(newest);
  };
  /** A second look at a match, recorded here or elsewhere: every view of that match follows it. */
  const verified = (verification: Verification): void => {
    awaiting.verified(verification);
    incident.verified(verification);
    if (shownCheck?.alertId === verification.alert_id) shownCheck.verified(verification);
    for (const open of openIncidents.values()) {
      const ours = open.incident_id === verification.incident_id || open.alert_id === verification.alert_id;
      if (ours) openIncidents.set(open.incident_id, { ...open, identity: verification.identity });
    }
    renderIncidents();
  };
  /** The review shown, and its identity check once loaded (a confirmed alert's). */
  let reviewing: string | null = null;
  let shownCheck: IdentityCheck | null = null;

  const openAlert = (alertId: string): void => {
    queue.select(alertId);
    queuePanel.hidden = true;
    required("#incident").hidden = true;
    const pending = queue.get(alertId);
    if (pending?.lat != null && pending.lon != null) map.focus(pending.lat, pending.lon);
    reviewing = alertId;
    shownCheck = null;
    showReview(reviewPanel, alertId, user, {
      decided: (outcome: ReviewOutcome) => void decided(outcome),
      close: showQueue,
      verified,
    }).then((check) => {
      if (reviewing === alertId) shownCheck = check;
    }).catch((caught: unknown) => {
      notice(caught instanceof ApiError ? caught.message : String(caught));
      showQueue();
    });
  };
  const queue = new AlertQueue(required("#queue"), openAlert);
  const awaiting = new AwaitingVerification(required("#awaiting"), user, openAlert);
  required("#awaiting-count").addEventListener("click", () => {
    required("#incident").hidden = reviewPanel.hidden = true;
    queuePanel.hidden = false;
    queue.select(null);
    required("#awaiting-section").scrollIntoView({ block: "start" });
    required<HTMLButtonElement>("#awaiting .awaiting-item").focus();
  });

  const decided = async (outcome: ReviewOutcome): Promise<void> => {
    queue.remove(outcome.alert_id);
    map.removeAlert(outcome.alert_id);
    reviewPanel.hidden = true;
    if (outcome.decision === "dismissed") {
      showQueue();
      return;
    }
    try {
      const opened = await post<Incident>("/api/v1/incidents", { alert_id: outcome.alert_id });
      remember(opened);
      incident.show(opened);
    } catch (caught) {
      // A subject already pursued: the confirmed sighting moved that incident's target instead.
      const pursued = [...openIncidents.values()].find((open) => open.subject?.subject_id === outcome.subject_id);
      notice(caught instanceof ApiError ? caught.message : String(caught));
      if (pursued !== undefined) incident.show(await get<Incident>(`/api/v1/incidents/${pursued.incident_id}`));
      else showQueue();
    }
  };

  // The feed's horizon first, then the state: entries after the horizon are replayed on top of it.
  const horizon = (await get<{ horizon: number }>("/api/v1/feed?limit=1")).horizon;
  const [units, pending, recent, incidents] = await Promise.all([
    get<{ units: Unit[] }>("/api/v1/units"),
    get<{ alerts: PendingAlert[] }>("/api/v1/reviews?limit=500"),
    get<{ alerts: (PendingAlert & { review_decision: string | null })[] }>("/api/v1/alerts?limit=500"),
    get<{ incidents: Incident[] }>("/api/v1/incidents?status=open"),
  ]);
  const board = new UnitBoard(required("#unit-board"));
  for (const unit of units.units) {
    map.setUnit(unit);
    board.set(unit.unit_id, unit.call_sign, unit.status, unit.radio_id, unit.position?.at);
  }
  map.frameUnits();
  queue.load(pending.alerts);
  // The queue's entries carry no place; the alert list does (without opening a review, which is audited).
  const waiting = new Set(pending.alerts.map((alert) => alert.alert_id));
  for (const alert of recent.alerts) if (waiting.has(alert.alert_id)) map.addAlert(alert, openAlert);
  for (const open of incidents.incidents) {
    openIncidents.set(open.incident_id, open);
    awaiting.incident(open);
  }
  renderIncidents();
  // After the units are framed: an officer in danger takes the map. Should the list fail, the alerts still work.
  await emergencies.load().catch(failed);

  const link = required("#link");
  let wasDown = false;
  const feed = new FeedLink(horizon, {
    link(up: boolean): void {
      setText(link, up ? "Live" : "Reconnecting…");
      link.classList.toggle("down", !up);
      // Back after a break: the feed replays what it missed, and the open emergencies are read again besides.
      if (up && wasDown) {
        emergencies.load().catch(failed);
      }
      wasDown = !up;
    },
    signedOut(): void {
      showSignIn("Your session has ended. Sign in again.");
    },
    entry(entry: FeedEntry): void {
      switch (entry.kind) {
        case "alert.raised": {
          const alert = entry.payload as PendingAlert & { review_decision: string | null };
          if (alert.review_decision === null && queue.arrive(alert)) map.addAlert(alert, openAlert);
          break;
        }
        case "alert.escalated":
          queue.escalated((entry.payload as { alert_id: string }).alert_id);
          break;
        case "alert.reviewed": {
          const outcome = entry.payload as ReviewOutcome;
          queue.remove(outcome.alert_id);
          map.removeAlert(outcome.alert_id);
          awaiting.reviewed(outcome);
          break;
        }
        case "alert.verified":
          verified(entry.payload as Verification);
          break;
        case "unit.position": {
          const position = entry.payload as PositionReported;
          if (position.is_latest) {
            map.moveUnit(position.unit_id, position);
            board.moved(position.unit_id, position.at);
          }
          emergencies.moved(position);
          incident.unitsMoved();
          break;
        }
        case "unit.changed": {
          const unit = entry.payload as UnitChanged;
          map.setStatus(unit.unit_id, unit.status, unit.call_sign);
          board.set(unit.unit_id, unit.call_sign, unit.status, unit.radio_id);
          incident.unitChanged(unit.unit_id, unit.status);
          break;
        }
        case "incident.opened":
        case "incident.changed":
        case "dispatch.sent": {
          const changed = (entry.payload as { incident: Incident }).incident;
          remember(changed);
          emergencies.incidentChanged(changed);
          break;
        }
        case "dispatch.status":
          emergencies.answered(entry.payload as DispatchStatusReported);
          void incident.reload();
          break;
        case "emergency.raised":
        case "emergency.changed":
          emergencies.upsert(entry.payload as EmergencyOut);
          break;
        case "dispatch.escalated":
          incident.escalate(entry.payload as DispatchEscalated);
          break;
        default:
          break;
      }
    },
  });
  feed.start();
  return map;
}

function switchView(view: View, user: CurrentUser, map: SituationMap | null): void {
  for (const tab of document.querySelectorAll<HTMLButtonElement>(".tab")) {
    tab.setAttribute("aria-pressed", String(tab.dataset["view"] === view));
  }
  for (const name of Object.keys(VIEWS) as View[]) required(`#view-${name}`).hidden = name !== view;
  if (view === "watchlists") void showWatchlists(required("#view-watchlists"), user);
  if (view === "audit") void showAudit(required("#view-audit"));
  if (view === "operations") map?.refresh();
}

async function main(): Promise<void> {
  window.addEventListener(SIGNED_OUT, () => showSignIn("Your session has ended. Sign in again."));
  const form = required<HTMLFormElement>("#sign-in-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void signIn(form);
  });
  let user: CurrentUser;
  try {
    user = await get<CurrentUser>("/api/v1/auth/me");
  } catch (caught) {
    if (caught instanceof ApiError && caught.status === 401) {
      showSignIn();
      return;
    }
    throw caught;
  }
  armCue();
  required("#sign-in").hidden = true;
  required("#app").hidden = false;
  setText(required("#who"), `${user.display_name} (${user.roles.map(label).join(", ")})`);
  required("#sign-out").addEventListener("click", () => {
    void post("/api/v1/auth/logout", {}).finally(() => window.location.reload());
  });
  const config = await get<PageConfig>("/api/v1/control-room/config");
  let map: SituationMap | null = null;
  const views = (Object.keys(VIEWS) as View[]).filter((view) => allowed(user, view));
  for (const tab of document.querySelectorAll<HTMLButtonElement>(".tab")) {
    const view = tab.dataset["view"] as View;
    tab.hidden = !views.includes(view);
    tab.addEventListener("click", () => switchView(view, user, map));
  }
  required("#large-type").addEventListener("click", () =>
    setLarge(!document.body.classList.contains("large"), map),
  );
  setLarge(window.localStorage.getItem(LARGE_KEY) === "1", null);
  const first = views[0];
  if (first === undefined) {
    notice("Your roles have no control-room view. Administrators manage users and devices with the vigil command.");
    return;
  }
  // Only operations follow the live feed (and hold alerts): other roles see neither indicator.
  required("#link").hidden = required("#pending-count").hidden = !views.includes("operations");
  if (views.includes("operations")) {
    required("#view-operations").hidden = false;
    map = await startOperations(config, user);
  }
  switchView(first, user, map);
  document.body.dataset["ready"] = "1";
}

main().catch((caught: unknown) => {
  notice(caught instanceof ApiError ? caught.message : String(caught));
  if (!(caught instanceof ApiError)) throw caught;
});
