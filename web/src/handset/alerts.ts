/**
 * Alert cards, newest first: the live crop beside the watchlist photo, who and why, the match distance against
 * the threshold, and where the alert stands with control. A card is built once and then only updated, so an
 * image never reloads and the officer's place on the screen is kept.
 */
import { element, setText } from "../shared/dom";
import { type AlertCard, clock, words } from "./screen";

const VERDICTS = {
  unconfirmed: "UNCONFIRMED: do not act on the match alone. Control is reviewing it.",
  confirmed: "CONFIRMED by control",
  dismissed: "DISMISSED by control: not a match",
} as const;

/** Show `cards` in `list`; returns the ids of cards that were not on the screen before. */
export function renderAlerts(list: HTMLElement, cards: readonly AlertCard[]): string[] {
  const shown = new Map<string, HTMLElement>();
  for (const child of Array.from(list.children)) {
    if (child instanceof HTMLElement && child.dataset["alertId"] !== undefined) shown.set(child.dataset["alertId"], child);
  }
  const added: string[] = [];
  const wanted = new Set(cards.map((card) => card.alert_id));
  for (const [id, stale] of shown) if (!wanted.has(id)) stale.remove();
  let previous: HTMLElement | null = null;
  for (const card of cards) {
    let view = shown.get(card.alert_id);
    if (view === undefined) {
      view = buildCard(card);
      added.push(card.alert_id);
    }
    updateCard(view, card);
    if (previous === null ? list.firstElementChild !== view : previous.nextElementSibling !== view) {
      if (previous === null) list.prepend(view);
      else previous.after(view);
    }
    previous = view;
  }
  return added;
}

function buildCard(card: AlertCard): HTMLElement {
  return element(
    "article",
    { class: "card alert", "data-alert-id": card.alert_id, "data-testid": "alert-card" },
    element("div", { class: "card-title" }, element("span", {}, "WATCHLIST ALERT"), element("time", {}, clock(card.at))),
    element(
      "div",
      { class: "faces" },
      face(card.probe_image, "Camera now", "probe"),
      face(card.enrolled_image, "Watchlist photo", "enrolled"),
    ),
    element("h2", { class: "name" }, card.name),
    element("p", { class: "category" }, words(card.category)),
    card.notes === "" ? null : element("p", { class: "notes" }, card.notes),
    element(
      "p",
      { class: "distance" },
      `Match distance ${card.distance.toFixed(3)} against threshold ${card.threshold.toFixed(3)} (lower is closer)`,
    ),
    element("p", { class: "verdict", role: "status" }),
  );
}

function updateCard(view: HTMLElement, card: AlertCard): void {
  if (view.dataset["state"] === card.state) return;
  view.dataset["state"] = card.state;
  const verdict = view.querySelector(".verdict");
  if (verdict === null) return;
  const review = card.review;
  let text: string = VERDICTS[card.state];
  if (review !== null) {
    text += ` (${review.reviewer}, ${clock(review.at)})`;
    if (review.reason !== "") text += `: ${review.reason}`;
  }
  setText(verdict, text);
}

/** A face image with its caption. */
export function face(src: string, caption: string, role: string): HTMLElement {
  return element(
    "figure",
    { class: `face ${role}` },
    element("img", { src, alt: caption, width: "150", height: "150", decoding: "async" }),
    element("figcaption", {}, caption),
  );
}
