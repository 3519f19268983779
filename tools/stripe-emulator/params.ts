/**
 * Per-endpoint parameter specs: Stripe rejects any parameter it does not know (`parameter_unknown`), checks
 * types (`parameter_invalid_integer`, …) and required ones (`parameter_missing`) before the endpoint runs.
 */
import { parameterInvalid, parameterMissing, parameterUnknown } from './errors';
import type { FormObject, FormValue } from './form';

export type Field =
  | { t: 'string'; required?: boolean; enum?: readonly string[]; emptyable?: boolean }
  | { t: 'int'; required?: boolean; min?: number; max?: number }
  | { t: 'bool' }
  | { t: 'metadata' }
  | { t: 'strings'; enum?: readonly string[] }
  | { t: 'object'; fields: Spec; emptyable?: boolean }
  /** `created[gt]=…` style range filters or a plain integer */
  | { t: 'range' }
  /** accepted and ignored (documented Stripe parameter the emulator does not model) */
  | { t: 'ignored' };

export type Spec = Record<string, Field>;
export type Params = Record<string, unknown>;

/** Every Stripe endpoint accepts `expand`. */
const common: Spec = { expand: { t: 'strings' } };

function paramName(path: string[]): string {
  return path.map((p, i) => (i === 0 ? p : `[${p}]`)).join('');
}

function parseInt_(value: FormValue, name: string, field: { min?: number; max?: number }): number {
  if (typeof value !== 'string' || !/^-?\d+$/.test(value)) {
    throw parameterInvalid(
      name,
      `Invalid integer: ${typeof value === 'string' ? value : '[object]'}`,
      'parameter_invalid_integer',
    );
  }
  const n = Number(value);
  if (field.min !== undefined && n < field.min) {
    throw parameterInvalid(
      name,
      `This value must be greater than or equal to ${field.min}.`,
      'parameter_invalid_integer',
    );
  }
  if (field.max !== undefined && n > field.max) {
    throw parameterInvalid(
      name,
      `This value must be less than or equal to ${field.max}.`,
      'parameter_invalid_integer',
    );
  }
  return n;
}

function parseField(field: Field, value: FormValue, path: string[]): unknown {
  const name = paramName(path);
  switch (field.t) {
    case 'ignored':
      return value;
    case 'string': {
      if (typeof value !== 'string') throw parameterInvalid(name, `Invalid string: ${name} must be a string`);
      if (value === '') {
        if (field.emptyable) return null;
        throw parameterInvalid(
          name,
          `You passed an empty string for '${name}'. We assume empty values are an attempt to unset a parameter; however '${name}' cannot be unset. You should remove '${name}' from your request or supply a non-empty value.`,
          'parameter_invalid_empty',
        );
      }
      if (field.enum && !field.enum.includes(value)) {
        throw parameterInvalid(
          name,
          `Invalid ${name}: must be one of ${field.enum.join(', ')}`,
          'parameter_invalid_string',
        );
      }
      return value;
    }
    case 'int':
      return parseInt_(value, name, field);
    case 'bool':
      if (value === 'true') return true;
      if (value === 'false') return false;
      throw parameterInvalid(
        name,
        `Invalid boolean: ${typeof value === 'string' ? value : '[object]'}`,
        'parameter_invalid_boolean',
      );
    case 'metadata': {
      if (value === '') return null; // unset all keys
      if (typeof value !== 'object' || Array.isArray(value))
        throw parameterInvalid(name, 'Invalid hash', 'parameter_invalid_hash');
      const out: Record<string, string | null> = {};
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string')
          throw parameterInvalid(
            `${name}[${k}]`,
            'Invalid metadata value: must be a string',
            'parameter_invalid_string',
          );
        if (k.length > 40)
          throw parameterInvalid(
            `${name}[${k}]`,
            'Metadata keys can have up to 40 characters.',
            'parameter_invalid_string',
          );
        if (v.length > 500)
          throw parameterInvalid(
            `${name}[${k}]`,
            'Metadata values can have up to 500 characters.',
            'parameter_invalid_string',
          );
        out[k] = v === '' ? null : v;
      }
      return out;
    }
    case 'strings': {
      const arr =
        typeof value === 'string' ? (value === '' ? [] : [value]) : Array.isArray(value) ? value : null;
      if (!arr) throw parameterInvalid(name, 'Invalid array', 'parameter_invalid_array');
      return arr.map((v, i) => {
        if (typeof v !== 'string')
          throw parameterInvalid(`${name}[${i}]`, 'Invalid string', 'parameter_invalid_string');
        if (field.enum && !field.enum.includes(v)) {
          throw parameterInvalid(
            `${name}[${i}]`,
            `Invalid ${name}[${i}]: must be one of ${field.enum.join(', ')}`,
          );
        }
        return v;
      });
    }
    case 'range': {
      if (typeof value === 'string') return { eq: parseInt_(value, name, {}) };
      if (Array.isArray(value)) throw parameterInvalid(name, 'Invalid hash', 'parameter_invalid_hash');
      const out: Record<string, number> = {};
      for (const [k, v] of Object.entries(value)) {
        if (!['gt', 'gte', 'lt', 'lte'].includes(k)) throw parameterUnknown(`${name}[${k}]`);
        out[k] = parseInt_(v, `${name}[${k}]`, {});
      }
      return out;
    }
    case 'object': {
      if (value === '' && field.emptyable) return null;
      if (typeof value !== 'object' || Array.isArray(value))
        throw parameterInvalid(name, 'Invalid hash', 'parameter_invalid_hash');
      return parseObject(field.fields, value, path, false);
    }
  }
}

function parseObject(spec: Spec, obj: FormObject, path: string[], top: boolean): Params {
  const fields = top ? { ...common, ...spec } : spec;
  const out: Params = {};
  for (const [key, value] of Object.entries(obj)) {
    const field = fields[key];
    if (!field) throw parameterUnknown(paramName([...path, key]));
    out[key] = parseField(field, value, [...path, key]);
  }
  for (const [key, field] of Object.entries(fields)) {
    if ((field.t === 'string' || field.t === 'int') && field.required && out[key] === undefined) {
      throw parameterMissing(paramName([...path, key]));
    }
  }
  return out;
}

export function parseParams(spec: Spec, raw: FormObject): Params {
  return parseObject(spec, raw, [], true);
}

/** Applies a parsed metadata update (`null` values delete keys; `null` overall clears) to existing metadata. */
export function mergeMetadata(existing: Record<string, string>, update: unknown): Record<string, string> {
  if (update === undefined) return existing;
  if (update === null) return {};
  const out = { ...existing };
  for (const [k, v] of Object.entries(update as Record<string, string | null>)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}
