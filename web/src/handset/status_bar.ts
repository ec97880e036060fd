/**
 * The status bar along the top, the banner below it when the watchlist is out of date, and a second banner when
 * the outbox's storage failed (full, read-only, broken): then some events are only in memory, not yet safe.
 */
import { element, required, setText } from "../shared/dom";
import type { StatusBar } from "./screen";

/** What the camera says about its outbox's storage (`StatusBarView` in `vigil/edge/screen_view.py`). */
interface OutboxStorage {
  readonly outbox_in_memory?: number;
  readonly storage_warning?: string | null;
}

const LINK_WORDS = { up: "Control: linked", down: "Control: NO LINK", offline: "Control: offline mode" } as const;

/** Show the status bar. */
export function renderStatus(status: StatusBar & OutboxStorage): void {
  const link = required("#status-link");
  link.dataset["state"] = status.link;
  setText(link, LINK_WORDS[status.link]);

  const outbox = required("#status-outbox");
  const inMemory = status.outbox_in_memory ?? 0;
  const storageWarning = status.storage_warning ?? null;
  outbox.dataset["state"] = storageWarning !== null ? "stale" : status.outbox_backlog === 0 ? "empty" : "waiting";
  const waiting = status.outbox_backlog === 0 ? "Outbox empty" : `Outbox ${status.outbox_backlog} waiting`;
  setText(outbox, inMemory > 0 ? `${waiting} (${inMemory} only in memory)` : waiting);
  renderStorageBanner(storageWarning);

  const gps = required("#status-gps");
  gps.dataset["state"] = status.gps === null ? "none" : "fix";
  setText(gps, gpsText(status));

  const battery = required("#status-battery");
  const pct = status.battery_pct;
  battery.dataset["state"] = pct === null ? "unknown" : pct < 15 ? "low" : "ok";
  setText(battery, pct === null ? "Battery ?" : `Battery ${Math.round(pct)}%`);

  const watchlist = required("#status-watchlist");
  watchlist.dataset["state"] = status.watchlist_warning === null ? "current" : "stale";
  const until = status.watchlist_valid_until;
  const expiry = until === null ? "" : ` · until ${new Date(until).toLocaleString([], dateStyle)}`;
  setText(watchlist, `Watchlist v${status.watchlist_version}${expiry}`);

  const banner = required("#banner");
  banner.hidden = status.watchlist_warning === null;
  setText(banner, status.watchlist_warning === null ? "" : `WATCHLIST OUT OF DATE: ${status.watchlist_warning}`);
  renderSearchBanner(status.search_paused, status.silent_trial);
}

/** Whether the camera searches: paused (and why) or a silent trial; made after the watchlist banner when needed. */
function renderSearchBanner(paused: string | null, silentTrial: boolean): void {
  const text = paused ?? (silentTrial ? "Silent trial in progress: matches go to control for review only" : null);
  let banner = document.querySelector<HTMLElement>("#search-banner");
  if (banner === null) {
    if (text === null) return;
    banner = element("div", { id: "search-banner", class: "banner", role: "status", "data-testid": "search-banner" });
    required("#banner").after(banner);
  }
  banner.hidden = text === null;
  banner.dataset["state"] = paused !== null ? "paused" : "silent";
  setText(banner, text ?? "");
}

/** The storage banner, made under the watchlist banner the first time it is needed. */
function renderStorageBanner(warning: string | null): void {
  let banner = document.querySelector<HTMLElement>("#storage-banner");
  if (banner === null) {
    if (warning === null) return;
    banner = element("div", { id: "storage-banner", class: "banner", role: "alert", "data-testid": "storage-banner" });
    required("#banner").after(banner);
  }
  banner.hidden = warning === null;
  setText(banner, warning ?? "");
}

const dateStyle: Intl.DateTimeFormatOptions = {
  day: "numeric",
  month: "short",
  hour: "2-digit",
  minute: "2-digit",
  hour12: false,
};

function gpsText(status: StatusBar): string {
  const gps = status.gps;
  if (gps === null) return "NO GPS FIX";
  if (gps.accuracy_m === null) return gps.source === "sim" ? "GPS (simulated)" : "GPS fix";
  return `GPS ±${Math.round(gps.accuracy_m)} m`;
}
