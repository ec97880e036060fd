/**
 * The arrival cue for a new alert: a two-tone chime and a flash of the queue. Browsers allow sound only after
 * the operator has used the page (signing in counts), so the tone is prepared on the first key or click.
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
