import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, recheckCount } from '../../src/config';
import { recheckIntervalMs } from '../../src/domain/stripe-rechecks';

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const { problems, message } = error as ConfigError;
    // The message lists the same problems, one per line.
    for (const problem of problems) expect(message).toContain(`  - ${problem}`);
    return problems;
  }
  throw new Error('loadConfig accepted the configuration');
}

describe('the configuration', () => {
  it('has working defaults per profile, read from nothing but the environment given', () => {
    const product = loadConfig({});
    expect(product.temporalAddress).toBe('127.0.0.1:7233');
    expect(product.postgresIsLocal).toBe(true);
    expect(product.stripeIsReal).toBe(false);
    const test = loadConfig({ STACK_PROFILE: 'test' });
    expect(test.temporalAddress).toBe('127.0.0.1:17233');
    expect(test.metricsUrl).toBe('http://127.0.0.1:19464/metrics');
    // Empty means unset, as in .env files.
    expect(loadConfig({ DATABASE_URL: '', METRICS_PORT: '0' })).toMatchObject({
      postgresIsLocal: true,
      metricsUrl: null,
    });
  });

  it('rejects bad values with one clear message per problem, each naming its variable', () => {
    const problems = problemsOf({
      STACK_PROFILE: 'test',
      BIND_HOST: 'http://0.0.0.0',
      TEMPORAL_PORT: '70000',
      POSTGRES_PORT: 'five',
      STRIPE_SECRET_KEY: 'sk_live_abc',
      LOG_LEVEL: 'loud',
    });
    expect(problems).toHaveLength(5);
    expect(problems).toEqual(
      expect.arrayContaining([
        'BIND_HOST: must be a host name or an IP address',
        expect.stringMatching(/^TEMPORAL_PORT: .*65535/),
        expect.stringMatching(/^POSTGRES_PORT: .*number/),
        'STRIPE_SECRET_KEY: must be a Stripe test-mode key (sk_test_…)',
        expect.stringMatching(/^LOG_LEVEL: .*"info"/),
      ]),
    );
  });

  it('rejects a single bad value alone, leaving the rest to their defaults', () => {
    expect(problemsOf({ STRIPE_SECRET_KEY: 'sk_live_abc' })).toEqual([
      'STRIPE_SECRET_KEY: must be a Stripe test-mode key (sk_test_…)',
    ]);
    expect(problemsOf({ PORTAL_SESSION_SECRET: 'short' })).toEqual([
      expect.stringMatching(/^PORTAL_SESSION_SECRET: .*32/),
    ]);
    expect(problemsOf({ DATABASE_URL: 'mysql://db/x' })).toEqual([expect.stringMatching(/^DATABASE_URL: /)]);
  });

  it('refuses Stripe re-read intervals that would re-read more than 500 times in a wait (history size)', () => {
    // A fixed interval (the maximum equal to the first) of a minute: 1,439 re-reads in the day's card wait.
    expect(
      problemsOf({ STRIPE_RECHECK_INTERVAL_MS: '60000', STRIPE_RECHECK_MAX_INTERVAL_MS: '60000' }),
    ).toEqual([
      'STRIPE_RECHECK_MAX_INTERVAL_MS: re-reads from every 60000 ms, doubling up to 60000 ms, would re-read Stripe more than 500 times in CARD_WAIT_TIMEOUT_MS (86400000 ms); use at least 172786',
    ]);
    // The suggestion is the least that passes: 172786, and 172785 is refused.
    expect(
      loadConfig({ STRIPE_RECHECK_INTERVAL_MS: '60000', STRIPE_RECHECK_MAX_INTERVAL_MS: '172786' }),
    ).toMatchObject({ STRIPE_RECHECK_MAX_INTERVAL_MS: 172_786 });
    expect(
      problemsOf({ STRIPE_RECHECK_INTERVAL_MS: '60000', STRIPE_RECHECK_MAX_INTERVAL_MS: '172785' }),
    ).toHaveLength(1);
    expect(problemsOf({ STRIPE_RECHECK_INTERVAL_MS: '500' })).toEqual([
      expect.stringMatching(/^STRIPE_RECHECK_INTERVAL_MS: .*1000/),
    ]);
    expect(
      problemsOf({ STRIPE_RECHECK_INTERVAL_MS: '600000', STRIPE_RECHECK_MAX_INTERVAL_MS: '300000' }),
    ).toEqual([
      'STRIPE_RECHECK_MAX_INTERVAL_MS: 300000 ms is below STRIPE_RECHECK_INTERVAL_MS (600000 ms), the first interval it caps; use at least 600000',
    ]);
    // Doubling from a minute up to the hour: 28 re-reads in the day, accepted.
    expect(loadConfig({ STRIPE_RECHECK_INTERVAL_MS: '60000' })).toMatchObject({
      STRIPE_RECHECK_INTERVAL_MS: 60_000,
      STRIPE_RECHECK_MAX_INTERVAL_MS: 3_600_000,
    });
  });

  it('counts re-reads as the purchase workflow schedules them: the first interval, doubling up to the maximum', () => {
    // Defaults over the day's card wait: at 5, 15, 35, 75 minutes, then hourly (135 … 1395): 26.
    expect(recheckCount(86_400_000, 300_000, 3_600_000)).toBe(26);
    // A fixed five minutes: 5 … 1435 minutes.
    expect(recheckCount(86_400_000, 300_000, 300_000)).toBe(287);
    // The hour's 3-D Secure wait: at 5, 15 and 35 minutes.
    expect(recheckCount(3_600_000, 300_000, 3_600_000)).toBe(3);
    // A re-read due exactly at the deadline is the deadline's, not a re-read.
    expect(recheckCount(15 * 60_000, 5 * 60_000, 3_600_000)).toBe(1);
  });

  it("shares the workflow's schedule: each interval twice the last up to the maximum, the first alone without one", () => {
    expect([0, 1, 2, 3, 4].map((done) => recheckIntervalMs(1_000, 4_000, done))).toEqual([
      1_000, 2_000, 4_000, 4_000, 4_000,
    ]);
    // Purchases started before the doubling carry no maximum: a fixed interval.
    expect([0, 5].map((done) => recheckIntervalMs(1_000, undefined, done))).toEqual([1_000, 1_000]);
    // Thousands of re-reads in: still the maximum, never Infinity or NaN.
    expect(recheckIntervalMs(300_000, 3_600_000, 5_000)).toBe(3_600_000);
  });

  it('leaves the workflow cache unset by default (sized from memory) and refuses a cache the memory given cannot hold', () => {
    expect(loadConfig({}).WORKER_MAX_CACHED_WORKFLOWS).toBeUndefined();
    expect(loadConfig({}).WORKER_MEMORY_MB).toBeUndefined();
    expect(loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: '1000', WORKER_MEMORY_MB: '2048' })).toMatchObject({
      WORKER_MAX_CACHED_WORKFLOWS: 1000,
      WORKER_MEMORY_MB: 2048,
    });
    expect(problemsOf({ WORKER_MAX_CACHED_WORKFLOWS: '10000', WORKER_MEMORY_MB: '2048' })).toEqual([
      'WORKER_MAX_CACHED_WORKFLOWS: 10000 cached workflows need about 5450 MB (450 MB for the idle worker + 0.5 MB a cached workflow), more than WORKER_MEMORY_MB=2048; lower it to at most 3196, or unset it to size the cache from WORKER_MEMORY_MB',
    ]);
    expect(problemsOf({ WORKER_MEMORY_MB: '256' })).toEqual([
      expect.stringMatching(/^WORKER_MEMORY_MB: .*512/),
    ]);
    expect(problemsOf({ WORKER_MAX_CACHED_WORKFLOWS: '0' })).toEqual([
      expect.stringMatching(/^WORKER_MAX_CACHED_WORKFLOWS: /),
    ]);
  });
});
