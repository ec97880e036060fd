/**
 * The arrival cue for a new alert: a two-tone chime and a flash of the queue; and the officer-in-danger alarm,
 * a harsher rising siren repeated until the emergency is acknowledged. Browsers allow sound only after the
 * operator has used the page (signing in counts), so the tone is prepared on the first key or click: an alarm
 * already running when that happens is heard from its next repeat.
 */

let audio: AudioContext | null = null;

/** Prepare the tone on the operator's first key press or click. */
export function armCue(): void {
  const arm = (): void => {
    if (audio === null && "AudioContext" in window) audio = new AudioContext();
  };
  document.addEventListener("pointerdown", arm, { once: true, capture: true });
  document.addEventListener("keydown", arm, { once: true, capture: true });
}

/**
 * Flash `target` and, with `chime`, sound the tone (where allowed) and count the cue in `body[data-cues]` (what a
 * test can see).
 */
export function cue(target: HTMLElement, chime = true): void {
  target.classList.remove("flash");
  void target.offsetWidth; // restart the animation
  target.classList.add("flash");
  if (!chime) return;
  document.body.dataset["cues"] = String(Number(document.body.dataset["cues"] ?? "0") + 1);
  if (audio === null || audio.state !== "running") return;
  const now = audio.currentTime;
  for (const [offset, frequency] of [
    [0, 988],
    [0.22, 1319],
  ] as const) {
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = "sine";
    oscillator.frequency.value = frequency;
    gain.gain.value = 0.25;
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(now + offset);
    oscillator.stop(now + offset + 0.2);
  }
}

/** Seconds between repeats of the officer-in-danger alarm. */
const ALARM_EVERY_S = 2;

/**
 * The officer-in-danger alarm: three rising square-wave sweeps (unlike any alert's chime), repeated every
 * {@link ALARM_EVERY_S} s while it is on. `body[data-alarm]` says whether it is on and `body[data-alarms]` counts
 * its repeats (what a test can see, with or without a sound device).
 */
export class Alarm {
  private timer: number | null = null;

  /** Sound now and keep repeating; nothing changes when it is already on. */
  start(): void {
    if (this.timer !== null) return;
    document.body.dataset["alarm"] = "on";
    this.sound();
    this.timer = window.setInterval(() => this.sound(), ALARM_EVERY_S * 1000);
  }

  /** Stop repeating (the last sweep ends by itself). */
  stop(): void {
    document.body.dataset["alarm"] = "off";
    if (this.timer === null) return;
    window.clearInterval(this.timer);
    this.timer = null;
  }

  private sound(): void {
    document.body.dataset["alarms"] = String(Number(document.body.dataset["alarms"] ?? "0") + 1);
    if (audio === null || audio.state !== "running") return;
    const now = audio.currentTime;
    for (const offset of [0, 0.35, 0.7]) {
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.type = "square";
      oscillator.frequency.setValueAtTime(660, now + offset);
      oscillator.frequency.linearRampToValueAtTime(1320, now + offset + 0.3);
      gain.gain.value = 0.2;
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start(now + offset);
      oscillator.stop(now + offset + 0.3);
    }
  }
}
