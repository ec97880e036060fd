/**
 * A match's identity and its second verification (EU AI Act Art 14(5)). The operator's confirmation is the first
 * verification; nothing may be done on the identification alone until a second person (another person in the
 * control room, or the officer on scene) verifies it. Dispatch may follow the first, so the page says plainly
 * where the identity stands, in words and in colour: amber while it is not yet verified twice, green once it is,
 * red once it is refuted. A second person verifies with one click beside the two faces; the confirmer is told
 * that it must be someone else. Whatever the server refuses, its message is shown as it is.
 */
import { element, setText } from "../shared/dom";
import { ApiError, post } from "./api";
import { hoursMinutes } from "./format";
import type { Identity, IdentityVerdict, Verification, VerificationRecord, VerifierKind } from "./types";

const VERDICTS: readonly (readonly [IdentityVerdict, string, string])[] = [
  ["same_person", "Same person", "primary"],
  ["not_the_person", "Not the person", "danger"],
  ["cannot_tell", "Cannot tell", "secondary"],
];

const WHERE: Readonly<Record<VerifierKind, string>> = { officer: "officer on scene", control_room: "control room" };

/** The identity in one line: who confirmed it, and whether a second person has verified or refuted it. */
export function identityText(identity: Identity, kind: VerifierKind | null): string {
  const second = identity.verified_by ?? "a second person";
  const from = kind === null ? "" : ` (${WHERE[kind]})`;
  switch (identity.state) {
    case "awaiting_second":
      return `Confirmed by ${identity.confirmed_by} — NOT YET VERIFIED BY A SECOND PERSON`;
    case "verified": {
      const at = identity.verified_at === null ? "" : ` at ${hoursMinutes(identity.verified_at)}`;
      return `Verified by ${second}${from}${at} · confirmed by ${identity.confirmed_by}`;
    }
    case "refuted":
      return `REFUTED by ${second}${from}: not the person — false alert`;
  }
}

/** The identity in a word or two, for lists. */
export function identityTag(identity: Identity): string {
  switch (identity.state) {
    case "awaiting_second":
      return "NOT VERIFIED TWICE";
    case "verified":
      return "Identity verified";
    case "refuted":
      return "REFUTED";
  }
}

/** Who may verify here, and what to compare. */
export interface VerificationOffer {
  /** The signed-in user confirmed the match: the second verification must be someone else's. */
  readonly mine: boolean;
  /** The two faces to compare, where the panel does not already show them beside the buttons. */
  readonly faces: HTMLElement | null;
  /** Second looks already on record. */
  readonly verifications: readonly VerificationRecord[];
  /** This page recorded a second look. */
  readonly recorded?: (verification: Verification) => void;
}

/** The identity line of one confirmed alert, with the second verification where the signed-in user may give it. */
export class IdentityCheck {
  readonly element = element("div", { class: "identity-check", "data-testid": "identity-check" });
  private readonly line = element("p", { class: "identity", role: "status", "data-testid": "identity" });
  private readonly looks = element("ul", { class: "looks", "data-testid": "identity-looks" });
  private readonly box = element("div", { class: "verify-box", "data-testid": "verify", hidden: "" });
  private readonly error = element("p", { class: "error", role: "alert", "data-testid": "verify-error" });
  private readonly buttons = VERDICTS.map(([verdict, text, style]) => {
    const button = element("button", { type: "button", class: style, "data-verdict": verdict }, text);
    button.addEventListener("click", () => void this.verify(verdict));
    return button;
  });
  private readonly seen = new Map<string, VerificationRecord>();
  private offer: VerificationOffer | null = null;

  constructor(
    readonly alertId: string,
    private identity: Identity,
  ) {
    this.element.append(this.line, this.looks, this.box);
    this.render();
  }

  /** Let the signed-in user verify, or tell them that they cannot (they confirmed it). */
  offerTo(offer: VerificationOffer): void {
    this.offer = offer;
    for (const verification of offer.verifications) this.seen.set(verification.verification_id, verification);
    const question = element(
      "p",
      { class: "verify-question" },
      "Second verification: is the camera's face the watchlist's person? Compare them yourself.",
    );
    if (offer.mine) {
      this.box.replaceChildren(
        element(
          "p",
          { class: "verify-mine", "data-testid": "verify-mine" },
          "You confirmed this match. Its second verification must be another person's: " +
            "a colleague in the control room, or the officer on scene.",
        ),
      );
    } else {
      const verdicts = element("div", { class: "actions verdicts" }, ...this.buttons);
      this.box.replaceChildren(question, ...(offer.faces === null ? [] : [offer.faces]), verdicts, this.error);
    }
    this.render();
  }

  /** A second look at this match was recorded (by this page, or another's, from the feed). */
  verified(verification: Verification): void {
    this.seen.set(verification.verification_id, verification);
    this.identity = verification.identity;
    this.render();
  }

  /** The identity as the incident now reports it. */
  changed(identity: Identity): void {
    this.identity = identity;
    this.render();
  }

  get state(): Identity["state"] {
    return this.identity.state;
  }

  private async verify(verdict: IdentityVerdict): Promise<void> {
    for (const button of this.buttons) button.disabled = true;
    setText(this.error, "");
    try {
      const recorded = await post<Verification>(`/api/v1/reviews/${this.alertId}/verification`, { verdict });
      this.verified(recorded);
      this.offer?.recorded?.(recorded);
      for (const button of this.buttons) button.disabled = false;
    } catch (caught) {
      setText(this.error, caught instanceof ApiError ? caught.message : String(caught));
      // A 409 is final (the confirmer, a match already settled, not confirmed, a silent trial's): offer no retry.
      if (caught instanceof ApiError && caught.status === 409) return;
      for (const button of this.buttons) button.disabled = false;
    }
  }

  /** Where the deciding second look came from. */
  private kind(): VerifierKind | null {
    return this.identity.verifier_kind;
  }

  private render(): void {
    const state = this.identity.state;
    this.line.className = `identity ${state}`;
    this.line.dataset["state"] = state;
    setText(this.line, `Identity: ${identityText(this.identity, this.kind())}`);
    const unsure = [...this.seen.values()].filter((look) => look.verdict === "cannot_tell");
    this.looks.replaceChildren(
      ...unsure.map((look) =>
        element(
          "li",
          {},
          `${look.verifier_name} (${WHERE[look.verifier_kind]}) could not tell at ${hoursMinutes(look.verified_at)}`,
        ),
      ),
    );
    this.box.hidden = this.offer === null || state !== "awaiting_second";
  }
}

/** The newer of two reports of one identity: once verified or refuted, it never goes back to awaiting. */
export function settledFirst(current: Identity | null, incoming: Identity | null | undefined): Identity | null {
  if (current !== null && current.state !== "awaiting_second" && incoming?.state === "awaiting_second") return current;
  return incoming ?? current;
}
