/**
 * Test-only log of the distinct request shapes the emulator accepted: method, route pattern, the parameter key
 * paths sent (metadata keys collapsed to `[*]`, array indexes to `[]`) and the API version, each with the
 * first request of that shape as an example (its real path and encoded query or body). The fidelity test
 * replays every example against stripe-mock, so the set of shapes checked cannot drift from what is sent.
 *
 * Only requests that passed parameter validation are recorded (a request rejected as `parameter_unknown` and
 * the like is not a shape the product may send); card declines, unknown ids and state errors are. The log
 * survives `POST /_emulator/reset` (it accumulates over the emulator's life, across tests that reset) and is
 * bounded.
 */
import type { FormObject, FormValue } from './form';
import type { Field, Spec } from './params';

export interface RequestShapeRecord {
  /** `METHOD pattern params… @version`: what makes two requests the same shape */
  key: string;
  method: string;
  /** the route pattern, e.g. `/v1/payment_intents/:id/confirm` */
  route: string;
  /** sorted parameter key paths, e.g. `customer`, `metadata[*]`, `created[gte]`, `types[]` */
  params: string[];
  apiVersion: string;
  /** the first request of this shape: its path and encoded query string (GET/DELETE) or body (POST) */
  example: { path: string; encoded: string };
  count: number;
}

const MAX_SHAPES = 1_000;

function keyPaths(value: FormValue, field: Field | undefined, name: string, out: Set<string>): void {
  if (typeof value === 'string') {
    out.add(name);
    return;
  }
  if (field?.t === 'metadata') {
    out.add(Object.keys(value).length === 0 ? name : `${name}[*]`);
    return;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) out.add(`${name}[]`);
    for (const item of value) keyPaths(item, undefined, `${name}[]`, out);
    return;
  }
  const nested = field?.t === 'object' ? field.fields : undefined;
  const entries = Object.entries(value);
  if (entries.length === 0) out.add(name);
  for (const [k, v] of entries) keyPaths(v, nested?.[k], `${name}[${k}]`, out);
}

/** The parameter key paths of a decoded request, as the shape log names them. */
export function paramKeyPaths(spec: Spec, raw: FormObject): string[] {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(raw)) keyPaths(v, spec[k], k, out);
  return [...out].sort();
}

export class ShapeLog {
  private shapes = new Map<string, RequestShapeRecord>();

  record(input: {
    method: string;
    route: string;
    spec: Spec;
    raw: FormObject;
    apiVersion: string;
    path: string;
    encoded: string;
  }): void {
    const params = paramKeyPaths(input.spec, input.raw);
    const key = `${input.method} ${input.route} ${params.join('&')} @${input.apiVersion}`;
    const known = this.shapes.get(key);
    if (known) {
      known.count++;
      return;
    }
    if (this.shapes.size >= MAX_SHAPES) return;
    this.shapes.set(key, {
      key,
      method: input.method,
      route: input.route,
      params,
      apiVersion: input.apiVersion,
      example: { path: input.path, encoded: input.encoded },
      count: 1,
    });
  }

  list(): RequestShapeRecord[] {
    return [...this.shapes.values()];
  }

  clear(): void {
    this.shapes.clear();
  }
}
