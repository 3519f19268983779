import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, PUBLIC_DEFAULT_SECRETS } from '../../src/config';

/**
 * docs/security.md: BIND_HOST may be any address; beyond loopback, or with a real Stripe test key, the
 * public default secrets are refused at start, each named.
 */

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('loadConfig accepted the configuration');
}

const ownSecrets = {
  PLATFORM_ADMIN_TOKEN: 'a-platform-token-of-our-own-1234',
  PORTAL_SESSION_SECRET: 'a-portal-session-secret-of-our-own-0123456789',
  STRIPE_WEBHOOK_SECRET: 'whsec_of_our_own_0123456789',
};
const secretNames = Object.keys(PUBLIC_DEFAULT_SECRETS);

describe('BIND_HOST and the public default secrets', () => {
  it('accepts a non-loopback BIND_HOST with secrets of its own and a Temporal of its own', () => {
    const config = loadConfig({
      BIND_HOST: '0.0.0.0',
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      ...ownSecrets,
    });
    expect(config.BIND_HOST).toBe('0.0.0.0');
    expect(config.portalUrl).toBe('http://0.0.0.0:3000');
    expect(loadConfig({ BIND_HOST: '10.1.2.3', TEMPORAL_ADDRESS: 't:7233', ...ownSecrets }).BIND_HOST).toBe(
      '10.1.2.3',
    );
  });

  it('keeps the defaults working on loopback with the emulator (a laptop)', () => {
    for (const host of ['127.0.0.1', 'localhost', '::1', '127.0.0.2']) {
      expect(loadConfig({ BIND_HOST: host }).PLATFORM_ADMIN_TOKEN).toBe(
        PUBLIC_DEFAULT_SECRETS.PLATFORM_ADMIN_TOKEN,
      );
    }
  });

  it('refuses each public default, named, when BIND_HOST is not loopback', () => {
    const all = problemsOf({ BIND_HOST: '0.0.0.0', TEMPORAL_ADDRESS: 't:7233' });
    expect(all.map((p) => p.split(':')[0]).sort()).toEqual([...secretNames].sort());
    for (const problem of all)
      expect(problem).toMatch(/public default is refused because BIND_HOST is 0\.0\.0\.0/);
    // One default left: only that one is named.
    for (const name of secretNames) {
      const env = { BIND_HOST: '192.168.1.20', TEMPORAL_ADDRESS: 't:7233', ...ownSecrets };
      delete (env as Record<string, string>)[name];
      expect(problemsOf(env)).toEqual([
        expect.stringMatching(new RegExp(`^${name}: the public default is refused`)),
      ]);
    }
  });

  it('refuses each public default with a real sk_test_ key, even on loopback', () => {
    const problems = problemsOf({ STRIPE_SECRET_KEY: 'sk_test_51RealLookingKey' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual([...secretNames].sort());
    for (const problem of problems) expect(problem).toContain('STRIPE_SECRET_KEY is a real Stripe key');
    expect(loadConfig({ STRIPE_SECRET_KEY: 'sk_test_51RealLookingKey', ...ownSecrets }).stripeIsReal).toBe(
      true,
    );
  });

  it('requires TEMPORAL_ADDRESS beyond loopback (the dev server has no authentication)', () => {
    expect(problemsOf({ BIND_HOST: '0.0.0.0', ...ownSecrets })).toEqual([
      expect.stringMatching(/^TEMPORAL_ADDRESS: required because BIND_HOST is 0\.0\.0\.0/),
    ]);
  });

  it('refuses a BIND_HOST that is not a host (a URL, a port)', () => {
    expect(problemsOf({ BIND_HOST: 'http://example.com' })).toEqual([
      'BIND_HOST: must be a host name or an IP address',
    ]);
    expect(problemsOf({ BIND_HOST: 'example.com:80', ...ownSecrets, TEMPORAL_ADDRESS: 't:1' })).toEqual([
      'BIND_HOST: must be a host name or an IP address',
    ]);
  });
});
