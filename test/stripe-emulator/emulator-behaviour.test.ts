import { afterAll, beforeAll, describe } from 'vitest';
import { defineBehaviourSuite } from './behaviour';
import { type EmulatorFixture, startEmulatorFixture } from './helpers';

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
});
