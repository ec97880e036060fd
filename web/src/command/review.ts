/**
 * Reviewing one alert: the camera's face crop beside the enrolled photo, the distance against the threshold,
 * quality, device, officer and place, and the subject's category, legal basis and notes. Confirm is one press;
 * Dismiss needs a reason. A confirmed alert shows its identity under the faces: a second person verifies it there
 * with one click. Opening the review (and its images) is recorded in the audit trail by the server.
 */
import { element, setText } from "../shared/dom";
import { ApiError, get, post } from "./api";
import { age, clock, label, secondsSince, when } from "./format";
import { IdentityCheck } from "./identity";
import type { CurrentUser, ReviewDetail, ReviewOutcome, Verification } from "./types";

export interface ReviewActions {
  /** The decision was recorded. */
  decided(outcome: ReviewOutcome, detail: ReviewDetail): void;
  /** Back to the queue without deciding. */
  close(): void;
  /** A second look at a confirmed match was recorded here. */
  verified(verification: Verification): void;
}

/** A face with its caption: the camera's crop ("probe") or the watchlist's photo ("enrolled"). */
export function face(role: string, title: string, url: string | null): HTMLElement {
  const picture =
    url === null
      ? element("div", { class: "no-image" }, "Image deleted (retention)")
      : element("img", { src: url, alt: `${title} face` });
  return element("figure", { class: `face ${role}` }, picture, element("figcaption", {}, title));
}

function fact(name: string, value: string, testId = ""): HTMLElement[] {
  const attributes: Record<string, string> = testId ? { "data-testid": testId } : {};
  return [element("dt", {}, name), element("dd", attributes, value)];
}

/** The camera's face crop beside the enrolled photo. */
export function faces(detail: ReviewDetail): HTMLElement {
  return element("div", { class: "faces" }, face("probe", "Camera", detail.probe_url), face("enrolled", "Enrolled", detail.enrolled_url));
}

/**
 * Show one alert for review; returns its identity check when it is a confirmed one (to follow the feed's second
 * verifications), else null.
 */
export async function showReview(
  panel: HTMLElement,
  alertId: string,
  user: CurrentUser,
  actions: ReviewActions,
): Promise<IdentityCheck | null> {
  panel.hidden = false;
  panel.replaceChildren(element("p", { class: "quiet" }, "Loading the alert…"));
  const detail = await get<ReviewDetail>(`/api/v1/reviews/${alertId}`);
  const subject = detail.subject;
  const within = detail.distance <= detail.threshold;
  const place =
    detail.lat === null || detail.lon === null
      ? "No position"
      : `${detail.lat.toFixed(5)}, ${detail.lon.toFixed(5)}${detail.accuracy_m === null ? "" : ` ±${Math.round(detail.accuracy_m)} m`}` +
        (detail.inside_deployment === false ? " (outside the deployment's area)" : "");

  const error = element("p", { class: "error", role: "alert", "data-testid": "review-error" });
  const confirm = element("button", { type: "button", class: "primary confirm", "data-testid": "confirm" }, "Confirm match");
  const dismissStart = element("button", { type: "button", class: "secondary", "data-testid": "dismiss" }, "Dismiss…");
  const reason = element("textarea", {
    id: "dismiss-reason",
    rows: "2",
    maxlength: "2000",
    "data-testid": "dismiss-reason",
    placeholder: "Why is this not the subject?",
  });
  const dismiss = element("button", { type: "button", class: "danger", "data-testid": "dismiss-send", disabled: "" }, "Dismiss alert");
  const dismissBox = element(
    "div",
    { class: "dismiss-box", hidden: "" },
    element("label", { for: "dismiss-reason" }, "Reason (required)"),
    reason,
    dismiss,
  );
  const back = element("button", { type: "button", class: "link-button" }, "← Back to the queue");

  const decide = async (decision: "confirmed" | "dismissed"): Promise<void> => {
    confirm.disabled = dismiss.disabled = true;
    setText(error, "");
    try {
      const outcome = await post<ReviewOutcome>(`/api/v1/reviews/${alertId}/decision`, {
        decision,
        reason: reason.value,
      });
      actions.decided(outcome, detail);
    } catch (caught) {
      setText(error, caught instanceof ApiError ? caught.message : String(caught));
      confirm.disabled = false;
      dismiss.disabled = reason.value.trim() === "";
    }
  };
  confirm.addEventListener("click", () => void decide("confirmed"));
  dismissStart.addEventListener("click", () => {
    dismissBox.hidden = false;
    reason.focus();
  });
  reason.addEventListener("input", () => {
    dismiss.disabled = reason.value.trim() === "";
  });
  dismiss.addEventListener("click", () => void decide("dismissed"));
  back.addEventListener("click", () => actions.close());

  const decided = detail.decision !== null;
  const identity = detail.identity ?? null;
  const check = identity === null ? null : new IdentityCheck(alertId, identity);
  check?.offerTo({
    mine: detail.reviewed_by === user.username,
    faces: null,
    verifications: detail.verifications ?? [],
    recorded: actions.verified,
  });
  panel.replaceChildren(
    back,
    element("h2", { id: "review-title" }, `Review: ${subject?.display_name ?? detail.subject_id}`),
    element(
      "p",
      { class: "caution" },
      "Compare the faces yourself. A match alone is not grounds to act; confirm only if they are the same person.",
    ),
    faces(detail),
    ...(check === null ? [] : [check.element]),
    element(
      "p",
      { class: `verdict ${within ? "within" : "outside"}`, "data-testid": "distance" },
      `Distance ${detail.distance.toFixed(3)} against threshold ${detail.threshold.toFixed(3)} ` +
        `(margin ${detail.margin.toFixed(3)}${within ? ", inside" : ", outside"})`,
    ),
    element(
      "dl",
      { class: "facts" },
      ...fact("Category", subject ? label(subject.category) : "Unknown (watchlist version not held here)", "category"),
      ...fact("Legal basis", subject?.legal_basis ?? "—", "legal-basis"),
      ...fact("Notes", subject?.notes || "—", "notes"),
      ...fact("Watchlist", subject ? `${subject.watchlist_name} (expires ${when(subject.expires_at)})` : "—"),
      ...fact("Quality", evidenceText(detail), "quality"),
      ...fact("Officer", `${detail.officer} (unit ${detail.unit_id})`, "officer"),
      ...fact("Device", detail.device_id, "device"),
      ...fact("Place", place, "place"),
      ...fact("Raised", `${clock(detail.raised_at)} (${age(secondsSince(detail.raised_at))} ago)`),
    ),
    decided
      ? element("p", { class: "quiet" }, `Already ${detail.decision ?? ""} by ${detail.reviewer_name ?? detail.reviewed_by ?? "someone"}.`)
      : element("div", { class: "actions" }, confirm, dismissStart),
    dismissBox,
    error,
  );
  if (!decided) confirm.focus();
  return check;
}

/** How many faces backed the match and how good they were: the reviewer weighs one poor face against several good. */
function evidenceText(detail: ReviewDetail): string {
  const evidence = detail.evidence;
  if (evidence === null) return `${detail.quality_score.toFixed(2)} over ${detail.frames} frame(s)`;
  const qualities = evidence.matched_qualities.map((score) => score.toFixed(2)).join(", ");
  return `${evidence.matched_qualities.length} of ${evidence.faces_searched} faces searched matched, quality ${qualities}`;
}
