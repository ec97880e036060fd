/**
 * The officer's handset screen: the page the edge agent serves on the device (see vigil.edge.screen_server).
 * It follows the agent's screen over server-sent events and posts the officer's answers back.
 */
import { required, setText } from "../shared/dom";
import { renderAlerts } from "./alerts";
import { ScreenLink } from "./connection";
import { armCue, cue } from "./cue";
import { EmergencyControl } from "./emergency";
import { OrderCards } from "./orders";
import type { DispatchState, IdentityVerdict, Screen } from "./screen";
import { renderStatus } from "./status_bar";

const NIGHT_KEY = "vigil.handset.night";

async function sendAnswer(dispatchId: string, status: DispatchState, reason: string): Promise<void> {
  const response = await fetch(`/api/orders/${encodeURIComponent(dispatchId)}/answers`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ status, reason }),
  });
  if (!response.ok) throw await refusal(response);
}

async function sendVerdict(dispatchId: string, verdict: IdentityVerdict): Promise<void> {
  const response = await fetch(`/api/orders/${encodeURIComponent(dispatchId)}/verification`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ verdict }),
  });
  if (!response.ok) throw await refusal(response);
}

/** A refusal's words for the officer, from the camera's `{"detail": …}` or its status code. */
async function refusal(response: Response): Promise<Error> {
  const problem = (await response.json().catch(() => ({}))) as { detail?: unknown };
  const detail = typeof problem.detail === "string" ? problem.detail : `the camera refused it (${response.status})`;
  return new Error(`Not sent: ${detail}`);
}

async function raiseEmergency(): Promise<void> {
  const response = await fetch("/api/emergency", { method: "POST" });
  if (!response.ok) throw await refusal(response);
}

async function dismissEmergency(): Promise<void> {
  const response = await fetch("/api/emergency", { method: "DELETE" });
  if (!response.ok) throw await refusal(response);
}

function setNight(night: boolean, orders: OrderCards): void {
  document.body.classList.toggle("night", night);
  setText(required("#night-toggle"), night ? "Day mode" : "Night mode");
  window.localStorage.setItem(NIGHT_KEY, night ? "1" : "0");
  orders.redrawMaps(); // the coordinate grid takes its colours from the theme
}

function main(): void {
  const alerts = required("#alerts");
  const orders = new OrderCards(required("#orders"), sendAnswer, sendVerdict);
  const quiet = required("#quiet");
  const screenLink = required("#screen-link");
  const emergency = new EmergencyControl(
    required<HTMLButtonElement>("#emergency-button"),
    required("#emergency"),
    required("#emergency-error"),
    raiseEmergency,
    dismissEmergency,
  );
  let first = true;

  setNight(window.localStorage.getItem(NIGHT_KEY) === "1", orders);
  required("#night-toggle").addEventListener("click", () =>
    setNight(!document.body.classList.contains("night"), orders),
  );
  armCue();

  const link = new ScreenLink("/api/stream", {
    link(up: boolean): void {
      screenLink.hidden = up;
    },
    screen(screen: Screen): void {
      setText(required("#unit"), `${screen.unit_id} · ${screen.device_id}`);
      renderStatus(screen.status);
      const acknowledged = emergency.render(screen.emergency);
      const newAlerts = renderAlerts(alerts, screen.alerts);
      const changedOrders = orders.render(screen.orders, screen.map, screen.status.gps);
      quiet.hidden = screen.alerts.length > 0 || screen.orders.length > 0;
      document.body.dataset["revision"] = String(screen.revision);
      if (!first && (newAlerts.length > 0 || changedOrders.length > 0 || acknowledged)) cue(newAlerts.length > 0);
      first = false;
    },
  });
  link.start();
}

main();
