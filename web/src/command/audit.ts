/** The audit trail for auditors: the newest entries first, filtered by actor or record, and the chain's check. */
import { element, setText } from "../shared/dom";
import { ApiError, get } from "./api";
import { when } from "./format";
import type { AuditEntry, ChainReport } from "./types";

const SHOWN = 300;

export async function showAudit(pane: HTMLElement): Promise<void> {
  const actor = element("input", { name: "actor", placeholder: "e.g. op-1" });
  const recordType = element("input", { name: "record_type", placeholder: "e.g. alert" });
  const rows = element("tbody", { "data-testid": "audit-rows" });
  const status = element("p", { class: "quiet", role: "status" });
  const verifyResult = element("p", { role: "status", "data-testid": "audit-verify" });
  const load = async (): Promise<void> => {
    const query = new URLSearchParams({ limit: "5000" });
    if (actor.value.trim()) query.set("actor", actor.value.trim());
    if (recordType.value.trim()) query.set("record_type", recordType.value.trim());
    const entries: AuditEntry[] = [];
    let after = 0;
    for (;;) {
      query.set("after", String(after));
      const page = await get<{ entries: AuditEntry[]; next_after: number }>(`/api/v1/audit?${query}`);
      entries.push(...page.entries);
      if (page.entries.length < 5000) break;
      after = page.next_after;
    }
    const newest = entries.slice(-SHOWN).reverse();
    rows.replaceChildren(
      ...newest.map((entry) =>
        element(
          "tr",
          {},
          element("td", {}, String(entry.seq)),
          element("td", {}, when(entry.at)),
          element("td", {}, entry.actor),
          element("td", {}, entry.action),
          element("td", {}, `${entry.record_type} ${entry.record_id ?? ""}`),
          element("td", { class: "details" }, JSON.stringify(entry.details)),
        ),
      ),
    );
    setText(status, `${entries.length} entries; the newest ${newest.length} shown.`);
  };
  const form = element(
    "form",
    { class: "filters" },
    element("label", {}, "Actor ", actor),
    element("label", {}, "Record type ", recordType),
    element("button", { type: "submit", class: "primary" }, "Show"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void load().catch((caught: unknown) => setText(status, caught instanceof ApiError ? caught.message : String(caught)));
  });
  const verify = element("button", { type: "button" }, "Verify the chain");
  verify.addEventListener("click", () => {
    setText(verifyResult, "Checking every entry…");
    get<ChainReport>("/api/v1/audit/verify")
      .then((report) => {
        setText(
          verifyResult,
          report.intact
            ? `Intact: ${report.entries} entries, none edited, removed or moved.`
            : `NOT INTACT: ${report.problems.map((problem) => `#${problem.seq} ${problem.message}`).join("; ")}`,
        );
        verifyResult.className = report.intact ? "ok" : "error";
      })
      .catch((caught: unknown) => setText(verifyResult, caught instanceof ApiError ? caught.message : String(caught)));
  });
  pane.replaceChildren(
    element("h2", {}, "Audit trail"),
    form,
    element("div", { class: "actions" }, verify),
    verifyResult,
    status,
    element(
      "table",
      { class: "audit" },
      element("thead", {}, element("tr", {}, ...["#", "When", "Who", "Action", "Record", "Details"].map((name) => element("th", { scope: "col" }, name)))),
      rows,
    ),
  );
  await load();
}
