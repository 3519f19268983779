import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestShapeRecord } from '../../tools/stripe-emulator/shapes';
import { defineBehaviourSuite } from './behaviour';
import { type EmulatorFixture, startEmulatorFixture } from './helpers';
import { recordedShapes, replayAgainstStripeMock, useStripeMock } from './stripe-mock';

describe('Stripe behaviour: emulator', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    fx = await startEmulatorFixture();
  });
  afterAll(() => fx?.handle.close());

  defineBehaviourSuite(() => ({
    stripe: fx.stripe,
    authenticate: (kind, id, outcome) =>
      fx.control('POST', `/_emulator/${kind}/${id}/authenticate`, { outcome }),
    eventsDeadlineMs: 2_000,
  }));

  // Runs after the suite (tests of a file run in order): every shape it sent is valid for stripe-mock too.
  it('stripe-mock accepts every request shape the behaviour suite sent', async () => {
    const shapes = (await recordedShapes(fx.handle.url)) as RequestShapeRecord[];
    expect(shapes.length).toBeGreaterThan(20);
    const mock = await useStripeMock();
    try {
      expect(await replayAgainstStripeMock(mock.url, shapes)).toEqual([]);
    } finally {
      mock.close();
    }
  });
});
