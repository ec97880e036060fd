/**
 * Calls to the command centre's API from its own page: the session is the HttpOnly cookie the browser sends by
 * itself, and the browser's `Sec-Fetch-Site: same-origin` is what the server's CSRF check wants. A refusal
 * becomes an {@link ApiError} carrying the server's message, to show the operator as it is.
 */

/** The API refused a request; `message` is the server's, written for a person. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

interface Problem {
  readonly error?: { readonly code?: string; readonly message?: string; readonly details?: unknown };
}

/** The window event sent when the server says the session has ended (a 401 on anything but signing in). */
export const SIGNED_OUT = "vigil:signed-out";

/** Send a request with an optional JSON body; returns the parsed JSON answer (undefined for 204). */
export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers = { Accept: "application/json", "Content-Type": "application/json" };
    init.body = JSON.stringify(body);
  }
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "unreachable", "The command centre cannot be reached. Check the network and try again.");
  }
  if (response.status === 204) return undefined as T;
  const parsed = (await response.json().catch(() => ({}))) as unknown;
  if (!response.ok) {
    const problem = (parsed as Problem).error ?? {};
    if (response.status === 401 && path !== "/api/v1/auth/login" && path !== "/api/v1/auth/me") {
      window.dispatchEvent(new Event(SIGNED_OUT));
    }
    throw new ApiError(response.status, problem.code ?? "error", describe(problem, response.status));
  }
  return parsed as T;
}

function describe(problem: NonNullable<Problem["error"]>, status: number): string {
  const message = problem.message ?? `The server refused the request (${status}).`;
  const details = problem.details;
  if (Array.isArray(details) && details.length > 0) {
    const first = details[0] as { msg?: unknown; loc?: unknown };
    if (typeof first.msg === "string") return `${message}: ${first.msg}`;
  }
  return message;
}

export const get = <T>(path: string): Promise<T> => call<T>("GET", path);
export const post = <T>(path: string, body: unknown): Promise<T> => call<T>("POST", path, body);
export const put = <T>(path: string, body: unknown): Promise<T> => call<T>("PUT", path, body);
