import { listOf, listSpec, matchesCreated, type Route } from '../context';
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
      const all = [...ctx.store.events.values()].filter(
        (e) =>
          (!type || typeMatches(e.type, type)) &&
          (!types || types.some((t) => typeMatches(e.type, t))) &&
          matchesCreated(e.created, ctx.params.created),
      );
      return listOf(all, ctx.params, '/v1/events');
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
