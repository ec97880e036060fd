/**
 * The screen as the edge agent's server sends it (`GET /api/screen`, and each `screen` event of
 * `/api/stream`): the TypeScript shape of `vigil.edge.screen_view.ScreenView`. Times are RFC 3339 strings (UTC).
 */
import type { Polygon } from "geojson";

import type { MapConfig } from "../shared/map";

export type LinkState = "up" | "down" | "offline";
export type AlertState = "unconfirmed" | "confirmed" | "dismissed";
export type DispatchState = "accepted" | "declined" | "en_route" | "on_scene" | "cleared";
export type IdentityVerdict = "same_person" | "not_the_person" | "cannot_tell";

export interface Gps {
  readonly lat: number;
  readonly lon: number;
  readonly accuracy_m: number | null;
  readonly source: string;
}

export interface StatusBar {
  readonly link: LinkState;
  readonly outbox_backlog: number;
  readonly gps: Gps | null;
  readonly battery_pct: number | null;
  readonly watchlist_version: number;
  readonly watchlist_valid_until: string | null;
  readonly watchlist_warning: string | null;
  /** Why the camera is not searching now (outside the deployment's area or window, no GPS fix), or null. */
  readonly search_paused: string | null;
  /** A silent trial deployment: matches go to control for later review, never to this screen. */
  readonly silent_trial: boolean;
}

export interface Review {
  readonly decision: "confirmed" | "dismissed";
  readonly reviewer: string;
  readonly reason: string;
  readonly at: string;
}

export interface AlertCard {
  readonly alert_id: string;
  readonly subject_id: string;
  readonly name: string;
  readonly category: string;
  readonly notes: string;
  readonly distance: number;
  readonly threshold: number;
  readonly probe_image: string;
  readonly enrolled_image: string;
  readonly at: string;
  readonly state: AlertState;
  readonly review: Review | null;
}

export interface Answer {
  readonly status: DispatchState;
  readonly delivered: boolean;
  readonly at: string;
}

export interface Subject {
  readonly subject_id: string;
  readonly name: string;
  readonly category: string;
  readonly risk_notes: string;
  readonly photo_image: string | null;
}

export interface Evidence {
  readonly alert_id: string;
  readonly seen_at: string;
  readonly distance: number;
  readonly threshold: number;
  readonly probe_image: string;
  readonly enrolled_image: string | null;
  /** The operator who confirmed the match: its first verification. */
  readonly confirmed_by: string | null;
  /** The second person who verified it; null: compare the faces before any stop. */
  readonly verified_by: string | null;
}

/** The officer's own verdict on an order's match: sent (in the outbox), then delivered. */
export interface Verdict {
  readonly verdict: IdentityVerdict;
  readonly delivered: boolean;
  readonly at: string;
}

/** The officer an officer-in-danger order sends this unit to help. */
export interface EmergencyBrief {
  readonly emergency_id: string;
  readonly unit_id: string;
  readonly call_sign: string;
  readonly raised_at: string;
}

/** The officer's own emergency: sent, delivered to control, then acknowledged by an operator. */
export interface Emergency {
  readonly emergency_id: string;
  readonly raised_at: string;
  readonly delivered: boolean;
  readonly acknowledged_by: string | null;
  readonly acknowledged_at: string | null;
  readonly message: string;
}

/** A subject order carries `subject` and `evidence`; an officer-in-danger order carries `emergency` instead. */
export interface Order {
  readonly dispatch_id: string;
  readonly incident_id: string;
  readonly revision: number;
  /** Control moved the target or the area since the first revision (a revision may only name the verifier). */
  readonly target_moved: boolean;
  readonly received_at: string;
  readonly target: { readonly lat: number; readonly lon: number; readonly accuracy_m: number | null };
  readonly area: Polygon;
  readonly subject: Subject | null;
  readonly evidence: Evidence | null;
  readonly emergency: EmergencyBrief | null;
  readonly instructions: string;
  readonly route: { readonly distance_m: number; readonly bearing_deg: number } | null;
  readonly state: DispatchState | null;
  readonly answers: readonly Answer[];
  readonly allowed: readonly DispatchState[];
  readonly verdict: Verdict | null;
  readonly verdicts_allowed: readonly IdentityVerdict[];
  readonly stood_down: boolean;
  readonly stand_down_reason: string;
}

export interface Screen {
  readonly revision: number;
  readonly device_id: string;
  readonly unit_id: string;
  readonly map: MapConfig;
  readonly status: StatusBar;
  readonly alerts: readonly AlertCard[];
  readonly orders: readonly Order[];
  readonly emergency: Emergency | null;
}

/** Words for a dispatch state, as the officer reads them. */
export const STATE_WORDS: Readonly<Record<DispatchState, string>> = {
  accepted: "Accepted",
  declined: "Declined",
  en_route: "En route",
  on_scene: "On scene",
  cleared: "Clear",
};

/** Words for a verdict, as the officer reads them after the tap. */
export const VERDICT_WORDS: Readonly<Record<IdentityVerdict, string>> = {
  same_person: "same person",
  not_the_person: "not the person",
  cannot_tell: "cannot tell",
};

/** `wanted_on_warrant` → `wanted on warrant`. */
export function words(identifier: string): string {
  return identifier.replaceAll("_", " ");
}

/** `14:03:27` in the device's local time. */
export function clock(at: string): string {
  return new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}
