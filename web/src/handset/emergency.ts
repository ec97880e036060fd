/**
 * The officer's emergency: a large red button that must be held for a second and a half (so that a pocket, a
 * glove or a stumble does not raise it), with the hold's progress filling it, by finger, mouse or keyboard
 * (Space or Enter held); then a panel at the top of the screen that says where the emergency stands: sent,
 * delivered to control, then acknowledged by an operator (who, when, what control says), after which the
 * officer may dismiss it. Letting go early sends nothing.
 */
import { element, required, setText } from "../shared/dom";
import { clock, type Emergency } from "./screen";

/** How long the button must be held, milliseconds (kept in step with the fill's transition in style.css). */
export const HOLD_MS = 1500;

/** Raises the emergency on the camera; rejects with a message for the officer when it could not. */
export type RaiseEmergency = () => Promise<void>;
/** Dismisses the acknowledged emergency; rejects with a message for the officer when it could not. */
export type DismissEmergency = () => Promise<void>;

type Hold = "idle" | "holding" | "sending";

const KEYS = new Set([" ", "Enter"]);

/** The button and the panel, wired to the camera. */
export class EmergencyControl {
  private timer: number | null = null;
  private key: string | null = null;

  constructor(
    private readonly button: HTMLButtonElement,
    private readonly panel: HTMLElement,
    private readonly error: HTMLElement,
    private readonly raise: RaiseEmergency,
    private readonly dismiss: DismissEmergency,
  ) {
    button.addEventListener("pointerdown", (event) => {
      if (event.pointerType === "mouse" && event.button !== 0) return;
      event.preventDefault(); // no text selection, no long-press menu, no focus change mid-hold
      this.start();
    });
    for (const type of ["pointerup", "pointercancel", "pointerleave"] as const) {
      button.addEventListener(type, () => this.release());
    }
    button.addEventListener("keydown", (event) => {
      if (!KEYS.has(event.key)) return;
      event.preventDefault();
      if (event.repeat || this.key !== null) return;
      this.key = event.key;
      this.start();
    });
    button.addEventListener("keyup", (event) => {
      if (event.key !== this.key) return;
      event.preventDefault();
      this.key = null;
      this.release();
    });
    button.addEventListener("blur", () => {
      this.key = null;
      this.release();
    });
    button.addEventListener("contextmenu", (event) => event.preventDefault());
    this.setHold("idle");
  }

  /** Show the emergency as the camera reports it (null: none open); true when control has just acknowledged it
   * (worth a cue: the officer may not be looking at the screen). */
  render(emergency: Emergency | null): boolean {
    const panel = this.panel;
    panel.hidden = emergency === null;
    this.button.dataset["open"] = emergency === null ? "no" : "yes";
    if (emergency === null) {
      delete panel.dataset["emergencyId"];
      delete panel.dataset["state"];
      return false;
    }
    panel.dataset["emergencyId"] = emergency.emergency_id;
    const acknowledged = emergency.acknowledged_by !== null && emergency.acknowledged_at !== null;
    const state = acknowledged ? "acknowledged" : emergency.delivered ? "delivered" : "sent";
    if (panel.dataset["state"] === state && panel.firstChild !== null) return false;
    panel.dataset["state"] = state;
    const headline =
      state === "sent"
        ? "EMERGENCY SENT — waiting for control"
        : state === "delivered"
          ? "EMERGENCY SENT — Delivered to control"
          : `Control has it — ${emergency.acknowledged_by ?? ""}, ${clock(emergency.acknowledged_at ?? "")}` +
            (emergency.message === "" ? "" : `: ${emergency.message}`);
    const children: HTMLElement[] = [
      element("p", { class: "headline" }, headline),
      element("p", { class: "raised" }, `Raised ${clock(emergency.raised_at)} · your position goes to control every second`),
    ];
    if (acknowledged) {
      const dismiss = element("button", { type: "button", class: "dismiss" }, "Dismiss");
      dismiss.addEventListener("click", () => {
        dismiss.disabled = true;
        this.error.hidden = true;
        this.dismiss().catch((problem: unknown) => {
          dismiss.disabled = false;
          this.problem(problem);
        });
      });
      children.push(dismiss);
    }
    panel.replaceChildren(...children);
    return acknowledged;
  }

  private start(): void {
    if (this.timer !== null || this.button.dataset["hold"] === "sending") return;
    this.setHold("holding");
    this.error.hidden = true;
    this.timer = window.setTimeout(() => {
      this.timer = null;
      this.setHold("sending");
      this.raise()
        .catch((problem: unknown) => this.problem(problem))
        .finally(() => this.setHold("idle"));
    }, HOLD_MS);
  }

  /** Let go: before the hold completed, nothing is sent. */
  private release(): void {
    if (this.timer === null) return;
    window.clearTimeout(this.timer);
    this.timer = null;
    this.setHold("idle");
  }

  private setHold(hold: Hold): void {
    this.button.dataset["hold"] = hold;
    setText(
      required(".label", this.button),
      hold === "holding" ? "Keep holding…" : hold === "sending" ? "Sending…" : "EMERGENCY — hold",
    );
  }

  private problem(problem: unknown): void {
    setText(this.error, problem instanceof Error ? problem.message : String(problem));
    this.error.hidden = false;
  }
}
