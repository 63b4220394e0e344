/** The page's small DOM helpers, shared by the shell (app.ts) and the views of each kind of run. */

export function el<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`the page has no #${id}`);
  return e as T;
}

export function setText(id: string, text: string): void {
  el(id).textContent = text;
}

/** A line at the top of the page's log. */
export function say(line: string, error = false): void {
  const p = document.createElement('div');
  p.textContent = `${new Date().toLocaleTimeString()} ${line}`;
  if (error) p.className = 'error';
  el('log').prepend(p);
}

export function setProgress(done: number, total: number): void {
  const bar = el<HTMLProgressElement>('progress');
  bar.max = total;
  bar.value = done;
}

export function toBase64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromBase64(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}
