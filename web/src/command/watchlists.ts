/**
 * Watchlist administration: every watchlist, its subjects with their state and expiry (the soonest first), the
 * enrolment quality verdict of each photo, proposing a subject with photos (operators and supervisors), and
 * approving an entry someone else proposed (supervisors only: the second person the server requires), told
 * beforehand what the watchlist's threshold is expected to do once it holds one more person.
 */
import { element, setText } from "../shared/dom";
import { ApiError, get, post } from "./api";
import { label, when } from "./format";
import type { CurrentUser, QualityVerdict, ThresholdPreview, Watchlist, WatchlistDetail, WatchlistSubject } from "./types";

const CATEGORIES = ["wanted_on_warrant", "wanted_suspect", "missing_person", "vulnerable_person", "court_order"];
const SOON_S = 7 * 86_400;

/** Whether the user may see faces (auditors read the record, never the biometric images). */
function seesFaces(user: CurrentUser): boolean {
  return user.roles.includes("operator") || user.roles.includes("supervisor");
}

function verdict(template: QualityVerdict, faces = true): HTMLElement {
  const quality = template.quality;
  const failed = quality.parts.filter((part) => !part.passed).map((part) => part.reason ?? part.name);
  return element(
    "figure",
    { class: `verdict-chip ${quality.passed ? "passed" : "failed"}`, "data-testid": "quality-verdict" },
    !faces
      ? element("div", { class: "no-image" }, "face not shown to your role")
      : template.chip_url === null
        ? element("div", { class: "no-image" }, "deleted")
        : element("img", { src: template.chip_url, alt: `Face from ${template.source}` }),
    element(
      "figcaption",
      {},
      `${template.source}: quality ${quality.score.toFixed(2)}, ${quality.passed ? "passed" : `refused (${failed.join("; ")})`}`,
    ),
  );
}

function expiry(subject: WatchlistSubject): HTMLElement {
  const left = (Date.parse(subject.expires_at) - Date.now()) / 1000;
  const days = Math.floor(left / 86_400);
  const text = left <= 0 ? "expired" : days < 1 ? "expires today" : `expires in ${days} day${days === 1 ? "" : "s"}`;
  return element("span", { class: left < SOON_S ? "soon" : "" }, `${when(subject.expires_at)} (${text})`);
}

async function readPhotos(files: FileList): Promise<{ name: string; image_base64: string }[]> {
  return Promise.all(
    [...files].map(
      (file) =>
        new Promise<{ name: string; image_base64: string }>((resolve, reject) => {
          const reader = new FileReader();
          reader.onload = () => resolve({ name: file.name, image_base64: String(reader.result).split(",", 2)[1] ?? "" });
          reader.onerror = () => reject(new Error(`cannot read ${file.name}`));
          reader.readAsDataURL(file);
        }),
    ),
  );
}

function proposalForm(watchlist: Watchlist, reload: () => void): HTMLElement {
  const field = (text: string, input: HTMLElement): HTMLElement => element("label", {}, text, input);
  const category = element("select", { name: "category", required: "" });
  for (const value of CATEGORIES) category.append(element("option", { value }, label(value)));
  const expires = element("input", { name: "expires", type: "date", required: "" });
  expires.valueAsDate = new Date(Date.now() + 90 * 86_400_000);
  const photos = element("input", { name: "photos", type: "file", accept: "image/jpeg,image/png,image/webp", multiple: "", required: "" });
  const result = element("div", { class: "result", role: "status", "data-testid": "proposal-result" });
  const form = element(
    "form",
    { class: "proposal", "data-testid": "proposal-form" },
    element("h3", {}, `Propose a subject for ${watchlist.name}`),
    field("Subject id (case reference)", element("input", { name: "subject_id", required: "", pattern: "[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}" })),
    field("Name shown to officers", element("input", { name: "display_name", required: "" })),
    field("Category", category),
    field("Legal basis (the power or order relied on)", element("input", { name: "legal_basis", required: "", minlength: "3" })),
    field("Search until", expires),
    field("Notes for officers", element("textarea", { name: "notes", rows: "2" })),
    field("Photos (one face each)", photos),
    element("button", { type: "submit", class: "primary" }, "Propose (a supervisor must approve)"),
    result,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    setText(result, "Checking the photos' quality…");
    result.className = "result";
    void (async () => {
      try {
        const subject = await post<WatchlistSubject>(`/api/v1/watchlists/${watchlist.watchlist_id}/subjects`, {
          subject: {
            subject_id: data.get("subject_id"),
            display_name: data.get("display_name"),
            category: data.get("category"),
            legal_basis: data.get("legal_basis"),
            expires_at: new Date(`${String(data.get("expires"))}T23:59:59Z`).toISOString(),
            notes: data.get("notes"),
          },
          photos: await readPhotos(photos.files ?? new DataTransfer().files),
        });
        result.replaceChildren(
          element("p", {}, `Proposed ${subject.display_name}: awaiting a supervisor's approval.`),
          ...subject.templates.map((template) => verdict(template)),
        );
        result.className = "result ok";
        reload();
      } catch (caught) {
        setText(result, caught instanceof ApiError ? caught.message : `Not proposed: ${String(caught)}`);
        result.className = "result refused";
      }
    })();
  });
  return form;
}

function subjectRow(
  subject: WatchlistSubject,
  user: CurrentUser,
  reload: () => void,
  preview: ThresholdPreview | null,
): HTMLElement {
  const actions = element("td", {});
  if (subject.state === "proposed" && user.roles.includes("supervisor")) {
    if (subject.proposed_by === user.username) {
      actions.append("Needs another supervisor");
    } else {
      const approve = element("button", { type: "button", class: "primary", "data-testid": "approve" }, "Approve");
      const error = element("span", { class: "error", role: "alert" });
      approve.addEventListener("click", () => {
        approve.disabled = true;
        post(`/api/v1/watchlists/${subject.watchlist_id}/subjects/${encodeURIComponent(subject.subject_id)}/approve`, {})
          .then(reload)
          .catch((caught: unknown) => {
            approve.disabled = false;
            setText(error, caught instanceof ApiError ? caught.message : String(caught));
          });
      });
      actions.append(approve, error);
      if (preview !== null) {
        actions.append(
          element("p", { class: "expectation", "data-testid": "approval-expectation" }, `If approved: ${previewText(preview)}.`),
        );
      }
    }
  }
  return element(
    "tr",
    { "data-subject": subject.subject_id, class: `state-${subject.state}` },
    element("td", {}, element("strong", {}, subject.display_name), element("br"), subject.subject_id),
    element("td", {}, label(subject.category), element("br"), element("small", {}, subject.legal_basis)),
    element("td", {}, label(subject.state)),
    element("td", {}, expiry(subject)),
    element("td", {}, `${subject.proposed_by_name}${subject.approved_by_name ? ` / ${subject.approved_by_name}` : ""}`),
    element("td", { class: "chips" }, ...subject.templates.map((template) => verdict(template, seesFaces(user)))),
    actions,
  );
}

export async function showWatchlists(pane: HTMLElement, user: CurrentUser): Promise<void> {
  const lists = await get<{ watchlists: Watchlist[] }>("/api/v1/watchlists");
  const detailBox = element("div", { class: "watchlist-detail" });
  const open = async (watchlist: Watchlist): Promise<void> => {
    const heading = element("h2", {});
    const expectation = element("p", { class: "expectation", "data-testid": "watchlist-expectation" });
    const rows = element("tbody", {});
    // Reloading redraws the subjects only: the proposal form keeps its verdict on screen.
    const reload = async (): Promise<void> => {
      const detail = await get<WatchlistDetail>(`/api/v1/watchlists/${watchlist.watchlist_id}`);
      const shown = detail.watchlist;
      setText(heading, `${shown.name} (${thresholdText(shown)}, version ${shown.current_version ?? "none"})`);
      setText(expectation, expectationText(shown));
      const approving = user.roles.includes("supervisor") && detail.subjects.some((subject) => subject.state === "proposed");
      const preview = approving
        ? await get<ThresholdPreview>(`/api/v1/watchlists/${watchlist.watchlist_id}/expectation`)
        : null;
      const subjects = [...detail.subjects].sort((a, b) => Date.parse(a.expires_at) - Date.parse(b.expires_at));
      rows.replaceChildren(...subjects.map((subject) => subjectRow(subject, user, () => void reload(), preview)));
    };
    const proposer = seesFaces(user);
    detailBox.replaceChildren(
      heading,
      expectation,
      element(
        "table",
        { class: "subjects", "data-testid": "subjects" },
        element(
          "thead",
          {},
          element("tr", {}, ...["Subject", "Category / legal basis", "State", "Expires (soonest first)", "Proposed / approved by", "Photos", ""].map((name) => element("th", { scope: "col" }, name))),
        ),
        rows,
      ),
      proposer ? proposalForm(watchlist, () => void reload()) : element("span"),
    );
    await reload();
  };
  const buttons = lists.watchlists.map((watchlist) => {
    const button = element(
      "button",
      { type: "button", class: "watchlist-item" },
      `${watchlist.name} · ${watchlist.counts["live"] ?? 0} live, ${watchlist.counts["proposed"] ?? 0} proposed`,
    );
    button.addEventListener("click", () => void open(watchlist));
    return element("li", {}, button);
  });
  pane.replaceChildren(
    element("h2", {}, "Watchlists"),
    buttons.length > 0 ? element("ul", { class: "watchlists" }, ...buttons) : element("p", { class: "quiet" }, "No watchlist yet."),
    detailBox,
  );
  const first = lists.watchlists[0];
  if (first !== undefined) await open(first);
}

/** The threshold in force, and whether a supervisor chose it or it follows the watchlist's size. */
function thresholdText(watchlist: Watchlist): string {
  const chosen = watchlist.threshold !== null;
  const value = watchlist.operating_threshold ?? watchlist.threshold;
  const how = chosen ? "chosen" : "by its size";
  return value === null ? `threshold ${how}` : `threshold ${value.toFixed(3)}, ${how}`;
}

/** What the current version's threshold is expected to do, and why a looser one than by size was chosen. */
function expectationText(watchlist: Watchlist): string {
  const expected = watchlist.expected === null ? "" : `${watchlist.expected.sentence}.`;
  const looser = watchlist.looser_threshold_reason === null ? "" : ` Looser than by size because: ${watchlist.looser_threshold_reason}`;
  return `${expected}${looser}`;
}

/** The threshold the watchlist will run at after one more approval, how it was chosen, and what it expects. */
function previewText(preview: ThresholdPreview): string {
  const how = { size: "by its size", stricter: "chosen, stricter than by size", looser: "chosen, looser than by size" }[preview.basis];
  return `threshold ${preview.threshold.toFixed(3)} (${how}). ${preview.expected.sentence}`;
}
