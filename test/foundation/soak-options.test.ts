/**
 * The soak's flags and its stack per Temporal mode (scripts/soak/options.ts): the dev server stays the
 * default, `--temporal server` runs the same soak on the Temporal server in a folder and on ports of its
 * own, apart from the dev soak's, the test stack's, the server-mode test's and the bench's.
 */
import { describe, expect, it } from 'vitest';
import { parseSoakOptions, SoakFlagError, soakEnv } from '../../scripts/soak/options';
import { temporalServerPorts } from '../../scripts/stack/temporal-server';
import { loadConfig } from '../../src/config';

/** Every port a stack with this environment listens on (the server mode's services included). */
function portsOf(env: Record<string, string>): number[] {
  const config = loadConfig(env);
  const temporalPorts =
    config.TEMPORAL_MODE === 'server'
      ? temporalServerPorts(config).all.map(({ port }) => port)
      : [config.TEMPORAL_PORT];
  return [
    ...temporalPorts,
    config.TEMPORAL_UI_PORT,
    config.POSTGRES_PORT,
    config.STRIPE_EMULATOR_PORT,
    config.STRIPE_MOCK_PORT,
    config.PORTAL_PORT,
  ];
}

/** The other stacks of the project that may run beside a soak (their own files set these). */
const others: Record<string, Record<string, string>> = {
  'the test stack': { STACK_PROFILE: 'test' },
  'the product run': { STACK_PROFILE: 'product' },
  'the server-mode test (test/temporal-server/server-mode.test.ts)': {
    STACK_PROFILE: 'test',
    TEMPORAL_MODE: 'server',
    TEMPORAL_PORT: '47233',
    TEMPORAL_UI_PORT: '48233',
    POSTGRES_PORT: '54369',
    STRIPE_EMULATOR_PORT: '52111',
    STRIPE_MOCK_PORT: '52112',
    PORTAL_PORT: '43000',
  },
  'the bench (scripts/bench/main.ts, either mode)': {
    STACK_PROFILE: 'product',
    TEMPORAL_MODE: 'server',
    TEMPORAL_PORT: '27233',
    TEMPORAL_UI_PORT: '28233',
    POSTGRES_PORT: '54349',
    STRIPE_EMULATOR_PORT: '32111',
    STRIPE_MOCK_PORT: '32112',
    PORTAL_PORT: '23000',
  },
};

describe('the soak flags', () => {
  it('defaults to the dev server, with the defaults the dev soak always had', () => {
    expect(parseSoakOptions([])).toEqual({
      temporal: 'dev',
      purchases: 1000,
      concurrency: 16,
      seed: 1,
      timeoutMs: 40 * 60_000,
      workers: 2,
      killEveryMs: 5000,
      maxKills: 0,
      temporalRestarts: 1,
      postgresRestarts: 1,
    });
  });

  it('takes --temporal server beside the other flags', () => {
    const options = parseSoakOptions(['--temporal', 'server', '--purchases', '300', '--max-kills', '2']);
    expect(options).toMatchObject({ temporal: 'server', purchases: 300, maxKills: 2, workers: 2 });
    expect(parseSoakOptions(['--temporal=dev']).temporal).toBe('dev');
  });

  it('refuses an unknown mode, a bad number and an unknown flag, naming them', () => {
    expect(() => parseSoakOptions(['--temporal', 'cloud'])).toThrow(
      new SoakFlagError('--temporal must be dev or server (got cloud)'),
    );
    expect(() => parseSoakOptions(['--purchases', '0'])).toThrow(/--purchases must be a whole number/);
    expect(() => parseSoakOptions(['--temporal-restarts', '2'])).toThrow(/--temporal-restarts/);
    expect(() => parseSoakOptions(['--shards', '4'])).toThrow(SoakFlagError);
  });
});

describe("the soak's stack per mode", () => {
  it('dev: the dev server persisting to a file in .stack/soak, on the ports it always had', () => {
    const config = loadConfig(soakEnv('dev'));
    expect(config.TEMPORAL_MODE).toBe('dev');
    expect(config.TEMPORAL_PERSISTENCE).toBe('file');
    expect(config.STACK_DIR).toBe('.stack/soak');
    expect(portsOf(soakEnv('dev'))).toEqual([26233, 26234, 54359, 26111, 26112, 26000]);
  });

  it('server: the Temporal server in .stack/soak-server, plain gRPC on loopback', () => {
    const config = loadConfig(soakEnv('server'));
    expect(config.TEMPORAL_MODE).toBe('server');
    expect(config.STACK_DIR).toBe('.stack/soak-server');
    expect(config.BIND_HOST).toBe('127.0.0.1');
    expect(config.TEMPORAL_SERVER_TLS).toBe('off');
    expect(config.temporalAddress).toBe('127.0.0.1:25233');
  });

  it("server: every port its own, apart from the dev soak's and the other stacks', below 32768", () => {
    const server = portsOf(soakEnv('server'));
    expect(new Set(server).size).toBe(server.length);
    const taken = new Map<number, string>();
    for (const [name, env] of Object.entries({ 'the dev soak': soakEnv('dev'), ...others }))
      for (const port of portsOf(env)) taken.set(port, name);
    expect(server.filter((port) => taken.has(port)).map((port) => `${port} (${taken.get(port)})`)).toEqual(
      [],
    );
    // Below Linux's ephemeral range, except Postgres, which keeps the project's 543x9 series.
    const postgres = loadConfig(soakEnv('server')).POSTGRES_PORT;
    expect(postgres).toBe(54379);
    expect(server.filter((port) => port !== postgres && port >= 32_768)).toEqual([]);
    // Temporal stores membership ports as a smallint.
    const membership = temporalServerPorts(loadConfig(soakEnv('server')))
      .all.filter(({ what }) => what.endsWith('membershipPort'))
      .map(({ port }) => port);
    expect(membership).toEqual([24933, 24934, 24935, 24939]);
  });
});
