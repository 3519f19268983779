/**
 * Decoding of Stripe's request encoding: `application/x-www-form-urlencoded` bodies (and GET query strings)
 * with nested keys as the SDK writes them: `metadata[purchase_id]=p1`, `payment_method_types[0]=card`,
 * `expand[]=data.customer`, `invoice_settings[default_payment_method]=pm_…`. An empty value (`key=`) is how
 * the SDK sends `null` (= unset), so it is kept as the empty string and interpreted by the validator.
 */

export type FormValue = string | FormValue[] | { [key: string]: FormValue };
export type FormObject = { [key: string]: FormValue };

export class FormDecodeError extends Error {}

function splitKey(key: string): string[] {
  const first = key.indexOf('[');
  if (first <= 0) return [key];
  const parts = [key.slice(0, first)];
  const rest = key.slice(first);
  const re = /\[([^\]]*)\]/g;
  let consumed = 0;
  for (let m = re.exec(rest); m !== null; m = re.exec(rest)) {
    if (m.index !== consumed) throw new FormDecodeError(`Malformed parameter name: ${key}`);
    parts.push(m[1] ?? '');
    consumed = m.index + m[0].length;
  }
  if (consumed !== rest.length) throw new FormDecodeError(`Malformed parameter name: ${key}`);
  return parts;
}

/** Objects whose keys are all array indices (or `[]` appends) become arrays, recursively. */
function arrayify(value: FormValue): FormValue {
  if (typeof value === 'string' || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  for (const k of keys) value[k] = arrayify(value[k] as FormValue);
  if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
    return keys
      .map(Number)
      .sort((a, b) => a - b)
      .map((i) => value[String(i)] as FormValue);
  }
  return value;
}

export function decodeForm(raw: string): FormObject {
  const root: FormObject = {};
  if (raw.trim() === '') return root;
  let appendCounter = 0;
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
    const key = decodeURIComponent(rawKey.replace(/\+/g, ' '));
    const value = decodeURIComponent(rawValue.replace(/\+/g, ' '));
    const parts = splitKey(key);
    let node: { [key: string]: FormValue } = root;
    for (let i = 0; i < parts.length; i++) {
      let part = parts[i] as string;
      if (part === '') part = String(1_000_000 + appendCounter++); // `a[]=x` appends; sorts after indices
      if (i === parts.length - 1) {
        if (typeof node[part] === 'object') throw new FormDecodeError(`Conflicting parameter: ${key}`);
        node[part] = value;
      } else {
        const next = node[part];
        if (next === undefined || next === '') {
          const created: { [key: string]: FormValue } = {};
          node[part] = created;
          node = created;
        } else if (typeof next === 'string' || Array.isArray(next)) {
          throw new FormDecodeError(`Conflicting parameter: ${key}`);
        } else {
          node = next;
        }
      }
    }
  }
  return arrayify(root) as FormObject;
}
