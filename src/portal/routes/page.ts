import { readFile } from 'node:fs/promises';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteDeps } from '../context';

/**
 * The customer portal page: `GET /portal` (the session token rides in the URL fragment, `#token=…`,
 * so it never reaches the server's logs), one plain HTML file, one stylesheet and one vanilla JS file
 * with no build step. The page talks to the /v1/portal API with the token as a bearer header.
 */
const pageDir = new URL('../page/', import.meta.url);

const assets = [
  { url: '/portal', file: 'index.html', type: 'text/html; charset=utf-8' },
  { url: '/portal/app.js', file: 'app.js', type: 'text/javascript; charset=utf-8' },
  { url: '/portal/app.css', file: 'app.css', type: 'text/css; charset=utf-8' },
] as const;

export const pageRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { config }) => {
  const contents = new Map<string, string>();
  for (const asset of assets) contents.set(asset.url, await readFile(new URL(asset.file, pageDir), 'utf8'));

  // Stripe.js (real Stripe only) needs its script, frames and API; test mode talks to this server alone.
  const stripeJs = config.stripeIsReal;
  const csp = [
    "default-src 'self'",
    `script-src 'self'${stripeJs ? ' https://js.stripe.com' : ''}`,
    `frame-src ${stripeJs ? 'https://js.stripe.com https://hooks.stripe.com' : "'none'"}`,
    `connect-src 'self'${stripeJs ? ' https://api.stripe.com' : ''}`,
    "img-src 'self' data:",
    "style-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');

  for (const asset of assets) {
    app.get(asset.url, { schema: { hide: true } }, async (_request, reply) =>
      reply
        .header('content-type', asset.type)
        .header('cache-control', 'no-store')
        .header('content-security-policy', csp)
        .header('referrer-policy', 'no-referrer')
        .header('x-content-type-options', 'nosniff')
        .send(contents.get(asset.url)),
    );
  }
};
