/**
 * The alert cue: a vibration and a short tone, where the browser allows them. Browsers allow both only after
 * the user has touched the page, so the cue waits for that rather than be refused (and log a complaint).
 */

let audio: AudioContext | null = null;

/** Prepare the tone on the officer's first touch (browsers refuse audio before one). */
export function armCue(): void {
  const arm = (): void => {
    if (audio === null && "AudioContext" in window) audio = new AudioContext();
  };
  document.addEventListener("pointerdown", arm, { once: true, capture: true });
}

function touched(): boolean {
  return navigator.userActivation?.hasBeenActive ?? false;
}

/** Vibrate and sound: `urgent` for a new alert, softer for an order or an update. */
export function cue(urgent: boolean): void {
  if (touched() && "vibrate" in navigator) navigator.vibrate(urgent ? [300, 120, 300, 120, 300] : [200]);
  if (audio === null || audio.state !== "running") return;
  const oscillator = audio.createOscillator();
  const gain = audio.createGain();
  oscillator.type = "square";
  oscillator.frequency.value = urgent ? 1320 : 880;
  gain.gain.value = 0.2;
  oscillator.connect(gain).connect(audio.destination);
  const now = audio.currentTime;
  oscillator.start(now);
  oscillator.stop(now + (urgent ? 0.6 : 0.25));
}
