/**
 * The soak's flags and its stack per Temporal mode (scripts/soak/options.ts): the dev server stays the
 * default, `--temporal server` runs the same soak on the Temporal server in a folder and on ports of its
 * own, apart from the dev soak's, the test stack's, the server-mode test's and the bench's.
 */
import { describe, expect, it } from 'vitest';
import { parseSoakOptions, SoakFlagError, soakEnv } from '../../scripts/soak/options';
import { temporalServerPorts } from '../../scripts/stack/temporal-server';
import { loadConfig } from '../../src/config';
import { stackPorts } from '../support/stack-ports';

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
    expect(stackPorts(soakEnv('dev')).map(({ port }) => port)).toEqual([
      26233, 26234, 26432, 26111, 26112, 26000,
    ]);
  });

  it('server: the Temporal server in .stack/soak-server, plain gRPC on loopback', () => {
    const config = loadConfig(soakEnv('server'));
    expect(config.TEMPORAL_MODE).toBe('server');
    expect(config.STACK_DIR).toBe('.stack/soak-server');
    expect(config.BIND_HOST).toBe('127.0.0.1');
    expect(config.TEMPORAL_SERVER_TLS).toBe('off');
    expect(config.temporalAddress).toBe('127.0.0.1:25233');
  });

  it("server: the Temporal server's membership ports fit Temporal's smallint column", () => {
    // Apart from the other stacks' ports and below the ephemeral range: test/foundation/stack-ports.test.ts.
    const membership = temporalServerPorts(loadConfig(soakEnv('server')))
      .all.filter(({ what }) => what.endsWith('membershipPort'))
      .map(({ port }) => port);
    expect(membership).toEqual([24933, 24934, 24935, 24939]);
  });
});
