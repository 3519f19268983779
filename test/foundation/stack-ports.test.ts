/**
 * The fixed ports of every stack the project starts: the product run, the test stack, the server-mode
 * test's, the bench's and the soak's. They may run side by side, so no two share a port; and the ones
 * that start or restart while other work holds outgoing connections keep below Linux's ephemeral range
 * (32768–60999 by default): an outgoing connection takes a local port from that range, and a listener
 * can then not bind it. (A fresh-clone CI once saw the server-mode test's Temporal server, then on
 * 47233…, exit while restarting; its log was gone with the clone, and such a bind failure is the cause
 * reproduced here.) The stack manager explains such a failure when it happens
 * (test/foundation/stack.test.ts); these ports keep it from happening.
 */
import { describe, expect, it } from 'vitest';
import { benchEnv } from '../../scripts/bench/env';
import { soakEnv } from '../../scripts/soak/options';
import { SERVER_MODE_ENV } from '../support/server-mode-env';
import { stackPorts } from '../support/stack-ports';

/** Linux's default ip_local_port_range starts here; the project's stacks do not count on its setting. */
const EPHEMERAL_RANGE_FIRST = 32_768;

/** Each port of these stacks at or above the ephemeral range's start, as `port: what of stack`. */
function portsInEphemeralRange(stacks: Record<string, Record<string, string>>): string[] {
  return Object.entries(stacks).flatMap(([name, env]) =>
    stackPorts(env)
      .filter(({ port }) => port >= EPHEMERAL_RANGE_FIRST)
      .map(({ port, what }) => `${port}: ${what} of ${name}`),
  );
}

/** Started first (`npm start`, the tests' global setup), before anything else of the project runs. */
const profiles = {
  'the product run': { STACK_PROFILE: 'product' },
  'the test stack': { STACK_PROFILE: 'test' },
};
/** Started, and some restarted, while other stacks or their own workers hold connections. */
const startedBesideOthers = {
  'the server-mode test': SERVER_MODE_ENV,
  'the bench': benchEnv('dev'),
  'the bench --temporal server': benchEnv('server'),
  'the dev soak': soakEnv('dev'),
  'the server soak': soakEnv('server'),
};
const stacks: Record<string, Record<string, string>> = { ...profiles, ...startedBesideOthers };

describe("the stacks' ports", () => {
  it('no two stacks that may run side by side share a port (nor one stack two)', () => {
    const owner = new Map<number, string>();
    const clashes: string[] = [];
    for (const [name, env] of Object.entries(stacks)) {
      // The bench's two modes are one command's choice: never up at once.
      const sameCommand = name === 'the bench --temporal server' ? 'the bench' : undefined;
      for (const { port, what } of stackPorts(env)) {
        const other = owner.get(port);
        if (other !== undefined && other !== sameCommand)
          clashes.push(`${port}: ${what} of ${name} and ${other}`);
        if (other === undefined) owner.set(port, name);
      }
    }
    expect(clashes).toEqual([]);
  });

  it('the stacks started beside others keep every port below the ephemeral range', () => {
    expect(portsInEphemeralRange(startedBesideOthers)).toEqual([]);
  });

  it("the profiles too, but for Postgres's documented 54329 and 54339, which start before anything else", () => {
    expect(portsInEphemeralRange(profiles)).toEqual([
      '54329: Postgres of the product run',
      '54339: Postgres of the test stack',
    ]);
  });

  it('a port of the ephemeral range is found (the check can fail)', () => {
    const inRange = stackPorts({ ...SERVER_MODE_ENV, POSTGRES_PORT: '54369' }).filter(
      ({ port }) => port >= EPHEMERAL_RANGE_FIRST,
    );
    expect(inRange).toEqual([{ port: 54369, what: 'Postgres' }]);
  });
});
