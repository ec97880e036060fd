/**
 * The prompt when an order goes unanswered past the acknowledgement timeout (or is declined): who did not answer,
 * the nearest available unit the server proposes instead, and one press to send it or to keep waiting.
 */
import { element } from "../shared/dom";
import { eta } from "./format";
import type { DispatchEscalated } from "./types";

export interface EscalationChoices {
  /** Send the proposed unit. */
  send(unitId: string): void;
  /** Keep waiting for the unit that was sent. */
  wait(): void;
}

export function escalationPrompt(escalation: DispatchEscalated, choices: EscalationChoices): HTMLElement {
  const proposed = escalation.proposed_unit_id;
  const send = element("button", { type: "button", class: "primary" }, `Send ${escalation.proposed_call_sign ?? ""}`);
  send.hidden = proposed === null;
  send.addEventListener("click", () => {
    if (proposed !== null) choices.send(proposed);
  });
  const wait = element("button", { type: "button" }, "Keep waiting");
  wait.addEventListener("click", () => choices.wait());
  const proposal =
    escalation.proposed_call_sign === null
      ? "No other unit is available in the area: widen it or call by radio."
      : `Nearest available: ${escalation.proposed_call_sign}` +
        (escalation.proposed_eta_s === null ? "." : `, about ${eta(escalation.proposed_eta_s)} away.`);
  return element(
    "div",
    { class: "escalation", role: "alert", "data-testid": "escalation" },
    element(
      "strong",
      {},
      escalation.why === "declined"
        ? `${escalation.call_sign} declined the order.`
        : `${escalation.call_sign} has not acknowledged the order.`,
    ),
    element("span", {}, ` ${proposal}`),
    send,
    wait,
  );
}
