/** Small DOM helpers both pages use: build elements, find the ones a page cannot work without. */

type Child = Node | string | null;

/** An element with attributes and children (strings become text, never HTML; nulls are skipped). */
export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Readonly<Record<string, string>> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const created = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) created.setAttribute(name, value);
  for (const child of children) if (child !== null) created.append(child);
  return created;
}

/** The element matching `selector` under `root`; throws when the page lacks it (a broken build, not a user error). */
export function required<T extends Element = HTMLElement>(selector: string, root: ParentNode = document): T {
  const found = root.querySelector<T>(selector);
  if (found === null) throw new Error(`the page has no ${selector}`);
  return found;
}

/** Replace an element's text only when it changed (keeps screen readers and selections calm). */
export function setText(target: Element, text: string): void {
  if (target.textContent !== text) target.textContent = text;
}
