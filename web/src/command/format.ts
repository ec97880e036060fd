/** How times, distances and names read on the control-room screen. */

/** Seconds since an ISO time, never negative (clocks differ a little). */
export function secondsSince(iso: string, now: number = Date.now()): number {
  return Math.max(0, (now - Date.parse(iso)) / 1000);
}

/** An age for a person: "8 s", "4 min", "2 h 5 min". */
export function age(seconds: number): string {
  if (seconds < 60) return `${Math.floor(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  const hours = Math.floor(seconds / 3600);
  return `${hours} h ${Math.floor((seconds % 3600) / 60)} min`;
}

/** A distance: "320 m", "2.4 km". */
export function metres(value: number): string {
  return value < 1000 ? `${Math.round(value)} m` : `${(value / 1000).toFixed(1)} km`;
}

/** A duration to arrive: "2 min 10 s". */
export function eta(seconds: number): string {
  const rounded = Math.round(seconds);
  if (rounded < 60) return `${rounded} s`;
  return `${Math.floor(rounded / 60)} min ${rounded % 60} s`;
}

/** A time of day in the browser's zone, with seconds, on the 24-hour clock a control room and its radios use. */
export function clock(iso: string): string {
  const parts = { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" } as const;
  return new Date(iso).toLocaleTimeString([], parts);
}

/** A date and time, on the 24-hour clock. */
export function when(iso: string): string {
  return new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short", hourCycle: "h23" });
}

/** An enum value for reading: "wanted_on_warrant" → "Wanted on warrant". */
export function label(value: string): string {
  const spaced = value.replaceAll("_", " ");
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

/** A time of day as hours and minutes ("21:40"), on the 24-hour clock. */
export function hoursMinutes(iso: string): string {
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}
