/**
 * The live feed: a WebSocket on `/api/v1/feed` that resumes after the last entry it received, so no alert or
 * status change is lost across a dropped connection. It reconnects with a growing back-off (1 s to 15 s).
 */
import type { FeedEntry } from "./types";

export interface FeedHandlers {
  entry(entry: FeedEntry): void;
  link(up: boolean): void;
  /** The server ended the session (close code 1008): the operator must sign in again. */
  signedOut(): void;
}

export class FeedLink {
  private socket: WebSocket | null = null;
  private delayMs = 1000;
  private stopped = false;

  /** @param after the feed's horizon when the page loaded its state: entries after it are replayed. */
  constructor(
    private after: number,
    private readonly handlers: FeedHandlers,
  ) {}

  start(): void {
    this.stopped = false;
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}/api/v1/feed?after=${this.after}`);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.delayMs = 1000;
      this.handlers.link(true);
    });
    socket.addEventListener("message", (message: MessageEvent<string>) => {
      const entry = JSON.parse(message.data) as FeedEntry;
      if (entry.seq > this.after) this.after = entry.seq;
      this.handlers.entry(entry);
    });
    socket.addEventListener("close", (event: CloseEvent) => {
      this.socket = null;
      if (this.stopped) return;
      this.handlers.link(false);
      if (event.code === 1008) {
        this.handlers.signedOut();
        return;
      }
      window.setTimeout(() => {
        if (!this.stopped) this.start();
      }, this.delayMs);
      this.delayMs = Math.min(this.delayMs * 2, 15_000);
    });
  }

  stop(): void {
    this.stopped = true;
    this.socket?.close();
    this.socket = null;
  }
}
