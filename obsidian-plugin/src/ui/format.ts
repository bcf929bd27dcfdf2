/** Small formats the views share (pure; the tests use them too). */

/** Device ids are 64 hex digits; ten are enough to tell devices apart, as the CLI shows. */
export function shortId(id: string): string {
  return id.slice(0, 10);
}

/** A history entry's `device`: "local" is this one. */
export function deviceLabel(device: string): string {
  return device === "local" ? "this device" : shortId(device);
}

export function when(ts: number | null | undefined): string {
  if (!ts) return "never";
  const d = new Date(ts * 1000);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** What the user reads of an error: the daemon's message already says what to do. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
