// Text helpers for input a tenant controls. Each runs in one pass over its input: a regular
// expression such as /\/+$/ retries from every slash of a long run and takes seconds on a few
// hundred KB, which freezes the one event loop of the operator (issue 10).

/** `text` without the slashes at its end; one backward scan. */
export function trimTrailingSlashes(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x2f) end -= 1;
  return end === text.length ? text : text.slice(0, end);
}

/** The UTF-8 size of a string, the unit every input cap is stated in. */
export const utf8Bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/** A size for a message: `64 KiB`, `1 MiB`, or bytes below 1 KiB. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
