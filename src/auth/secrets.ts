import { timingSafeEqual } from 'node:crypto';

/** Compares two secrets in constant time (for equal lengths), so a timing cannot reveal a prefix. */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
