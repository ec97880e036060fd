/**
 * The page's own link to the edge agent on the device: a server-sent event stream that delivers the whole
 * screen on every change. The browser reconnects a dropped stream by itself; when it gives up (the agent was
 * restarted and refused the connection for a while), the page opens a new one, so it never stays stale.
 */
import type { Screen } from "./screen";

const REOPEN_AFTER_MS = 2000;

export interface ScreenLinkEvents {
  /** A new screen arrived. */
  screen(screen: Screen): void;
  /** The stream connected (true) or dropped (false). */
  link(up: boolean): void;
}

/** Follows `/api/stream` for as long as the page is open. */
export class ScreenLink {
  private source: EventSource | null = null;

  constructor(
    private readonly url: string,
    private readonly events: ScreenLinkEvents,
  ) {}

  /** Open the stream. */
  start(): void {
    const source = new EventSource(this.url);
    this.source = source;
    source.addEventListener("open", () => this.events.link(true));
    source.addEventListener("screen", (event: MessageEvent<string>) => {
      this.events.screen(JSON.parse(event.data) as Screen);
    });
    source.addEventListener("error", () => {
      this.events.link(false);
      if (source.readyState === EventSource.CLOSED && this.source === source) {
        this.source = null;
        window.setTimeout(() => this.start(), REOPEN_AFTER_MS);
      }
    });
  }
}
