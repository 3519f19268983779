import { createHash, randomBytes } from 'node:crypto';

/** Id prefixes of the product (docs/api.md). */
export const idPrefixes = {
  organization: 'org',
  plan: 'pln',
  customer: 'cus',
  subscription: 'sub',
  creditPack: 'cpk',
  purchase: 'pur',
  refund: 'ref',
  webhookEndpoint: 'we',
  portalSession: 'pss',
} as const;
export type IdKind = keyof typeof idPrefixes;

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `length` base62 characters from the CSPRNG, without modulo bias. */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

/** A new id such as `cpk_3fK9…` (20 random base62 characters, ~119 bits). */
export function newId(kind: IdKind): string {
  return `${idPrefixes[kind]}_${randomBase62(20)}`;
}

/** Prefix of organization API keys; distinct from every id prefix so a key is never mistaken for an id. */
export const API_KEY_PREFIX = 'orgkey_';

export function newApiKey(): string {
  return `${API_KEY_PREFIX}${randomBase62(40)}`;
}

/** API keys are high-entropy random strings, so an unsalted sha256 is the right stored form. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

export function apiKeyHint(apiKey: string): string {
  return `${apiKey.slice(0, API_KEY_PREFIX.length + 4)}…`;
}
