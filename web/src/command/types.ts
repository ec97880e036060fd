/** The server's shapes the control room reads (the fields it uses), as `vigil serve` publishes them. */

export type Role = "operator" | "supervisor" | "admin" | "auditor";
export type UnitStatus = "available" | "busy" | "dispatched" | "en_route" | "on_scene" | "off_duty";
export type OrderState = "sent" | "accepted" | "declined" | "en_route" | "on_scene" | "cleared" | "cancelled";
export type Outcome = "arrest" | "not_found" | "wrong_person" | "other";

export interface CurrentUser {
  readonly username: string;
  readonly display_name: string;
  readonly roles: Role[];
}

export interface PageConfig {
  readonly map: { readonly tile_url: string | null; readonly tile_attribution: string; readonly max_zoom: number };
  readonly default_radius_m: number;
  readonly min_radius_m: number;
  readonly max_radius_m: number;
  readonly ack_timeout_s: number;
}

export interface UnitPosition {
  readonly lat: number;
  readonly lon: number;
  readonly accuracy_m: number | null;
  readonly heading_deg: number | null;
  readonly at: string;
}

export interface Unit {
  readonly unit_id: string;
  readonly call_sign: string;
  readonly radio_id: string | null;
  readonly kind: string;
  readonly status: UnitStatus;
  readonly position: UnitPosition | null;
}

export interface PositionReported extends UnitPosition {
  readonly unit_id: string;
  readonly is_latest: boolean;
}

export interface UnitChanged {
  readonly unit_id: string;
  readonly call_sign: string;
  readonly radio_id: string | null;
  readonly kind: string;
  readonly status: UnitStatus;
  readonly reason: string;
}

/** An alert awaiting review (the queue's `QueuedAlert` and the feed's `AlertSummary` share these). */
export interface PendingAlert {
  readonly alert_id: string;
  readonly subject_id: string;
  readonly device_id: string;
  readonly unit_id: string;
  readonly raised_at: string;
  readonly distance: number;
  readonly threshold: number;
  readonly escalated?: boolean;
  readonly lat?: number | null;
  readonly lon?: number | null;
}

export interface ReviewSubject {
  readonly watchlist_name: string;
  readonly subject_id: string;
  readonly display_name: string;
  readonly category: string;
  readonly legal_basis: string;
  readonly notes: string;
  readonly expires_at: string;
}

/** Which faces of the person's track backed an alert (events.AlertEvidence). */
export interface AlertEvidence {
  readonly faces_searched: number;
  readonly matched_qualities: readonly number[];
}

export interface ReviewDetail {
  readonly alert_id: string;
  readonly probe_url: string | null;
  readonly enrolled_url: string | null;
  readonly distance: number;
  readonly threshold: number;
  readonly margin: number;
  readonly quality_score: number;
  readonly frames: number;
  readonly evidence: AlertEvidence | null;
  readonly device_id: string;
  readonly unit_id: string;
  readonly officer: string;
  readonly lat: number | null;
  readonly lon: number | null;
  readonly accuracy_m: number | null;
  readonly inside_deployment: boolean | null;
  readonly raised_at: string;
  readonly subject_id: string;
  readonly subject: ReviewSubject | null;
  readonly decision: "confirmed" | "dismissed" | null;
  /** The reviewer's user name (compare with {@link CurrentUser.username}). */
  readonly reviewed_by: string | null;
  readonly reviewer_name: string | null;
  /** Second looks at a confirmed match, oldest first. */
  readonly verifications: VerificationRecord[];
  /** Whether two people have verified the match; null: not confirmed. */
  readonly identity: Identity | null;
}

export type IdentityState = "awaiting_second" | "verified" | "refuted";
export type IdentityVerdict = "same_person" | "not_the_person" | "cannot_tell";
export type VerifierKind = "control_room" | "officer";

/**
 * Whether two people have verified a match (EU AI Act Art 14(5)): the operator's confirmation is the first
 * verification; a second person in the control room or the officer on scene makes the second.
 */
export interface Identity {
  readonly state: IdentityState;
  /** Who confirmed the match (the first verification). */
  readonly confirmed_by: string;
  readonly confirmed_at: string;
  /** Who verified (or refuted) it second; null while it awaits a second person. */
  readonly verified_by: string | null;
  readonly verified_at: string | null;
  /** Where the second verification came from; null while it awaits a second person. */
  readonly verifier_kind: VerifierKind | null;
}

/** One second look at a confirmed match (a review's `verifications`). */
export interface VerificationRecord {
  readonly verification_id: string;
  readonly alert_id: string;
  readonly incident_id: string | null;
  readonly verdict: IdentityVerdict;
  readonly verifier_kind: VerifierKind;
  /** The person's display name, or the officer's call sign. */
  readonly verifier_name: string;
  readonly verified_at: string;
}

/** A second look with the identity after it (`POST /api/v1/reviews/{id}/verification`, the feed's `alert.verified`). */
export interface Verification extends VerificationRecord {
  readonly identity: Identity;
}

export interface ReviewOutcome {
  readonly alert_id: string;
  readonly subject_id: string;
  readonly decision: "confirmed" | "dismissed";
  /** The reviewer's user name. */
  readonly reviewed_by: string;
  readonly reviewer_name: string;
  readonly reviewed_at: string;
  /** A silent trial's alert: nothing is done on it. */
  readonly silent: boolean;
}

export interface DispatchOut {
  readonly dispatch_id: string;
  readonly unit_id: string;
  readonly call_sign: string;
  readonly radio_id: string | null;
  readonly state: OrderState;
  readonly sent_at: string;
  readonly answered_at: string | null;
  readonly overdue: boolean;
  readonly escalated_at: string | null;
  readonly reason: string;
}

/** An incident: for a confirmed alert (alert and subject) or for an officer's emergency (emergency_id). */
export interface Incident {
  readonly incident_id: string;
  readonly kind: "subject" | "officer_emergency";
  readonly alert_id: string | null;
  readonly subject: { readonly subject_id: string; readonly name: string; readonly category: string } | null;
  readonly emergency_id: string | null;
  readonly status: "open" | "closed";
  readonly outcome: Outcome | null;
  readonly target: { readonly lat: number; readonly lon: number; readonly at: string; readonly revision: number };
  readonly area: GeoJsonArea;
  readonly opened_by: string;
  readonly opened_at: string;
  readonly dispatches: DispatchOut[];
  /** A subject incident's identity: whether two people have verified the match; null for an emergency. */
  readonly identity: Identity | null;
}

export interface GeoJsonArea {
  readonly type: string;
  readonly geometry?: { readonly type: string; readonly coordinates: unknown };
  readonly properties?: { readonly radius_m?: number } | null;
  readonly coordinates?: unknown;
}

export interface AreaUnit {
  readonly unit_id: string;
  readonly call_sign: string;
  readonly radio_id: string | null;
  readonly kind: string;
  readonly status: UnitStatus;
  readonly lat: number;
  readonly lon: number;
  readonly distance_m: number;
  readonly eta_s: number;
  readonly position_age_s: number;
  readonly stale: boolean;
  readonly suggested: boolean;
}

export interface DispatchEscalated {
  readonly incident_id: string;
  readonly dispatch_id: string;
  readonly unit_id: string;
  readonly call_sign: string;
  readonly why: string;
  readonly proposed_unit_id: string | null;
  readonly proposed_call_sign: string | null;
  readonly proposed_eta_s: number | null;
}

export interface DispatchStatusReported {
  readonly dispatch_id: string;
  readonly unit_id: string;
  readonly status: string;
}

export type EmergencyTrigger = "handset" | "tracker_sos";
export type EmergencyStatus = "open" | "acknowledged" | "resolved";

/** The officer's latest known position on an emergency. */
export interface EmergencyPosition {
  readonly lat: number;
  readonly lon: number;
  readonly accuracy_m: number | null;
  readonly at: string;
}

/** A unit the server proposes to send to an officer in danger (nearest arrival first). */
export interface ProposedUnit {
  readonly unit_id: string;
  readonly call_sign: string;
  readonly status: UnitStatus;
  readonly distance_m: number;
  readonly eta_s: number;
}

/** An officer's emergency (`/api/v1/emergencies`, and the feed's `emergency.raised` and `emergency.changed`). */
export interface EmergencyOut {
  readonly emergency_id: string;
  readonly unit_id: string;
  readonly call_sign: string;
  readonly device_id: string;
  readonly trigger: EmergencyTrigger;
  readonly status: EmergencyStatus;
  readonly raised_at: string;
  readonly received_at: string;
  readonly position: EmergencyPosition | null;
  readonly acknowledged_by: string | null;
  readonly acknowledged_at: string | null;
  readonly resolved_by: string | null;
  readonly resolved_at: string | null;
  readonly incident_id: string | null;
  readonly proposed: ProposedUnit[];
  readonly dispatched: DispatchOut[];
}

/** One entry of the live feed (`/api/v1/feed`). */
export interface FeedEntry {
  readonly seq: number;
  readonly kind: string;
  readonly payload: unknown;
}

export interface QualityPart {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly passed: boolean;
  readonly reason: string | null;
}

export interface QualityVerdict {
  readonly source: string;
  readonly chip_url: string | null;
  readonly quality: { readonly score: number; readonly passed: boolean; readonly parts: QualityPart[] };
}

export interface WatchlistSubject {
  readonly watchlist_id: string;
  readonly subject_id: string;
  readonly display_name: string;
  readonly category: string;
  readonly legal_basis: string;
  readonly expires_at: string;
  readonly notes: string;
  readonly state: "proposed" | "live" | "removed" | "expired";
  readonly proposed_by: string;
  readonly proposed_by_name: string;
  readonly approved_by_name: string | null;
  readonly templates: QualityVerdict[];
}

export interface Watchlist {
  readonly watchlist_id: string;
  readonly name: string;
  /** The threshold a supervisor chose; null: it follows the watchlist's size. */
  readonly threshold: number | null;
  /** The threshold its current version's packages carry; null before the first version. */
  readonly operating_threshold: number | null;
  /** Why its chosen threshold may be looser than the one for its size and face model; null: none given. */
  readonly looser_threshold_reason: string | null;
  /** What its current version's threshold is expected to do; null before the first version. */
  readonly expected: Expectation | null;
  readonly current_version: number | null;
  readonly counts: Record<string, number>;
}

/** What a threshold is expected to do on a watchlist of some size (false alerts, share of listed people found). */
export interface Expectation {
  readonly watchlist_size: number;
  readonly threshold: number;
  readonly false_alerts_per_10k: number | null;
  readonly true_match_rate: number | null;
  readonly measured: boolean;
  readonly sentence: string;
}

/** GET /api/v1/watchlists/{id}/expectation: the threshold with one more person, as after an approval. */
export interface ThresholdPreview {
  readonly watchlist_size: number;
  readonly threshold: number;
  readonly size_threshold: number;
  readonly chosen_threshold: number | null;
  readonly basis: "size" | "stricter" | "looser";
  readonly looser_threshold_reason: string | null;
  readonly expected: Expectation;
}

export interface WatchlistDetail {
  readonly watchlist: Watchlist;
  readonly subjects: WatchlistSubject[];
}

export interface AuditEntry {
  readonly seq: number;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly record_type: string;
  readonly record_id: string | null;
  readonly details: Record<string, unknown>;
}

export interface ChainReport {
  readonly intact: boolean;
  readonly entries: number;
  readonly problems: { readonly seq: number; readonly message: string }[];
}
