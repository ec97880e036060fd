/**
 * Every unit as a table beside the map: call sign, status in words, radio and position age. It says in text what
 * the map shows in colour, for a screen reader, the keyboard, and a glance across the room.
 */
import { element, setText } from "../shared/dom";
import { age, label, secondsSince } from "./format";
import type { UnitStatus } from "./types";

interface Row {
  callSign: string;
  status: UnitStatus;
  radio: string | null;
  at: string | null;
}

export class UnitBoard {
  private readonly rows = new Map<string, Row>();

  constructor(private readonly body: HTMLElement) {
    window.setInterval(() => this.tickAges(), 1000);
  }

  /** A unit as the unit list or a unit.changed entry describes it. */
  set(unitId: string, callSign: string, status: UnitStatus, radio: string | null, at?: string | null): void {
    const known = this.rows.get(unitId);
    this.rows.set(unitId, { callSign, status, radio, at: at ?? known?.at ?? null });
    this.render();
  }

  /** A unit reported a position. */
  moved(unitId: string, at: string): void {
    const known = this.rows.get(unitId);
    if (known === undefined) return;
    known.at = at;
    this.tickAges();
  }

  private render(): void {
    const sorted = [...this.rows.entries()].sort(([, a], [, b]) => a.callSign.localeCompare(b.callSign));
    this.body.replaceChildren(
      ...sorted.map(([unitId, row]) =>
        element(
          "tr",
          { "data-unit": unitId },
          element("td", {}, row.callSign),
          element("td", {}, element("span", { class: `status-tag status-${row.status}` }, label(row.status))),
          element("td", {}, row.radio ?? "—"),
          element("td", { class: "age", "data-at": row.at ?? "" }, row.at === null ? "no position" : age(secondsSince(row.at))),
        ),
      ),
    );
  }

  private tickAges(): void {
    for (const cell of this.body.querySelectorAll<HTMLElement>("td.age")) {
      const at = cell.dataset["at"];
      const row = this.rows.get(cell.parentElement?.dataset["unit"] ?? "");
      const current = row?.at ?? at ?? "";
      if (current !== "") {
        cell.dataset["at"] = current;
        setText(cell, age(secondsSince(current)));
      }
    }
  }
}
