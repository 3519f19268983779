import { listSpec, matchesCreated, type Route } from '../context';
import { resourceMissing } from '../errors';

function typeMatches(type: string, pattern: string): boolean {
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1));
  return type === pattern;
}

export const eventRoutes: Route[] = [
  {
    method: 'GET',
    pattern: '/v1/events',
    spec: {
      ...listSpec,
      type: { t: 'string' },
      types: { t: 'strings' },
      created: { t: 'range' },
      delivery_success: { t: 'bool' },
    },
    handler(ctx) {
      const { type, types } = ctx.params as { type?: string; types?: string[] };
      // An exact `type` walks that type's index; a wildcard or `types` walks all events, newest first.
      const exact = type && !type.endsWith('.*') ? type : undefined;
      return ctx.store.events.list(ctx.params, '/v1/events', {
        ...(exact ? { index: ['type', exact] as [string, string] } : {}),
        where: (e) =>
          (!type || typeMatches(e.type, type)) &&
          (!types || types.some((t) => typeMatches(e.type, t))) &&
          matchesCreated(e.created, ctx.params.created),
      });
    },
  },
  {
    method: 'GET',
    pattern: '/v1/events/:id',
    spec: {},
    handler(ctx) {
      const e = ctx.store.events.get(ctx.pathParams.id!);
      if (!e) throw resourceMissing('event', ctx.pathParams.id!);
      return e;
    },
  },
];
