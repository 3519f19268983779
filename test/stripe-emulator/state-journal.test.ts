import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { createStripeAt } from '../../src/stripe/client';
import { startStripeEmulator } from '../../tools/stripe-emulator/index';
import { StateFile } from '../../tools/stripe-emulator/state-file';

/**
 * The state file is an append-only journal of the objects each request changed, compacted into a
 * snapshot when it grows (tools/stripe-emulator/state-file.ts): what a restart, a crash mid-write and a
 * compaction keep.
 */
const freshPath = () => join(mkdtempSync(join(tmpdir(), 'emulator-journal-')), 'state.json');
const size = (file: string) => statSync(file).size;

async function purchase(stripe: Stripe, n: number, key?: string) {
  const customer = await stripe.customers.create({ email: `j${n}@example.test` });
  const intent = await stripe.paymentIntents.create(
    {
      amount: 1000 + n,
      currency: 'usd',
      customer: customer.id,
      payment_method: 'pm_card_visa',
      confirm: true,
      metadata: { purchase_id: `pur_${n}` },
    },
    key ? { idempotencyKey: key } : {},
  );
  return { customer, intent };
}

/** Lets the journal write the commit of the requests just answered (one turn of the event loop later). */
const committed = async () => {
  await nextTurn();
  await nextTurn();
};

describe('the emulator state journal', () => {
  it('keeps objects, counters and idempotent answers across a restart without close (a crash)', async () => {
    const stateFile = freshPath();
    const first = await startStripeEmulator({ stateFile });
    const stripe = createStripeAt(first.url);
    const made: Awaited<ReturnType<typeof purchase>>[] = [];
    for (let n = 0; n < 5; n++) made.push(await purchase(stripe, n, `crash:${n}`));
    await committed();
    // The files as a crash would leave them (no close: nothing written at shutdown).
    const copy = freshPath();
    for (const name of readdirSync(join(stateFile, '..')))
      cpSync(join(stateFile, '..', name), join(copy, '..', name));
    await first.close();

    const second = await startStripeEmulator({ stateFile: copy });
    try {
      const again = createStripeAt(second.url);
      for (const [n, { customer, intent }] of made.entries()) {
        expect((await again.customers.retrieve(customer.id)) as Stripe.Customer).toMatchObject({
          email: `j${n}@example.test`,
        });
        const listed = await again.paymentIntents.list({ customer: customer.id });
        expect(listed.data.map((pi) => [pi.id, pi.status, pi.latest_charge])).toEqual([
          [intent.id, 'succeeded', intent.latest_charge],
        ]);
      }
      // A retried create with the same key replays the first answer after the restart: no second charge.
      const replay = await again.paymentIntents.create(
        {
          amount: 1002,
          currency: 'usd',
          customer: made[2]!.customer.id,
          payment_method: 'pm_card_visa',
          confirm: true,
          metadata: { purchase_id: 'pur_2' },
        },
        { idempotencyKey: 'crash:2' },
      );
      expect(replay.id).toBe(made[2]!.intent.id);
      expect((replay.lastResponse.headers as Record<string, string>)['idempotent-replayed']).toBe('true');
      const state = (await (await fetch(`${second.url}/_emulator/state`)).json()) as {
        paymentIntents: { id: string; _emulator: { creates: number; chargeAttempts: number } }[];
        counters: Record<string, number>;
      };
      expect(state.counters).toMatchObject({ customers: 5, paymentIntents: 5, charges: 5 });
      const counted = state.paymentIntents.find((pi) => pi.id === made[2]!.intent.id);
      expect(counted?._emulator).toMatchObject({ creates: 1, chargeAttempts: 1 });
    } finally {
      await second.close();
    }
  });

  it('ignores a torn last line (a crash mid-write), cuts it off, and appends after it', async () => {
    const stateFile = freshPath();
    const first = await startStripeEmulator({ stateFile });
    const kept = await purchase(createStripeAt(first.url), 1);
    await first.close();
    const journal = `${stateFile}.journal.0`;
    const whole = size(journal);
    // Half of a record, without its end of line: what a crash in the middle of a write leaves.
    appendFileSync(journal, '[["p","customers","cus_torn",{"id":"cus_torn","object":"custo');

    const second = await startStripeEmulator({ stateFile });
    let later: Awaited<ReturnType<typeof purchase>>;
    try {
      const again = createStripeAt(second.url);
      expect(size(journal)).toBe(whole); // the torn tail was cut before appending
      expect((await again.customers.retrieve(kept.customer.id)).id).toBe(kept.customer.id);
      await expect(again.customers.retrieve('cus_torn')).rejects.toMatchObject({ statusCode: 404 });
      later = await purchase(again, 2);
    } finally {
      await second.close();
    }
    expect(readFileSync(journal, 'utf8')).not.toContain('cus_torn');

    const third = await startStripeEmulator({ stateFile });
    try {
      const again = createStripeAt(third.url);
      expect((await again.paymentIntents.retrieve(kept.intent.id)).status).toBe('succeeded');
      expect((await again.paymentIntents.retrieve(later.intent.id)).status).toBe('succeeded');
    } finally {
      await third.close();
    }
  });

  it('refuses a damaged line before the end of the journal instead of dropping what follows', async () => {
    const stateFile = freshPath();
    const first = await startStripeEmulator({ stateFile });
    await purchase(createStripeAt(first.url), 1);
    await first.close();
    appendFileSync(`${stateFile}.journal.0`, '[["p","customers",\n[]\n');
    await expect(startStripeEmulator({ stateFile })).rejects.toThrow(/not a readable state journal at line/);
  });

  it('grows by the objects a request changed, not by the account', async () => {
    const stateFile = freshPath();
    const emulator = await startStripeEmulator({ stateFile });
    const stripe = createStripeAt(emulator.url);
    const journal = `${stateFile}.journal.0`;
    try {
      const growth: number[] = [];
      for (let n = 0; n < 300; n++) {
        const before = size(journal);
        await stripe.customers.create({ email: `grow${n}@example.test` });
        await committed();
        growth.push(size(journal) - before);
      }
      const dump = JSON.stringify(await (await fetch(`${emulator.url}/_emulator/state`)).json());
      const first = growth.slice(0, 100).reduce((a, b) => a + b, 0);
      const last = growth.slice(200).reduce((a, b) => a + b, 0);
      // One customer and its customer.created event per create: about 1 KB, the same at 300 as at 1.
      expect(Math.max(...growth)).toBeLessThan(2_000);
      expect(last / first).toBeGreaterThan(0.9);
      expect(last / first).toBeLessThan(1.1);
      // A rewrite of the whole account would add the whole dump per write.
      expect(growth.at(-1)).toBeLessThan(dump.length / 100);
      // A read writes nothing; an update writes the customer and its event, not the account.
      const id = (await stripe.customers.list({ limit: 1 })).data[0]!.id;
      let before = size(journal);
      await stripe.customers.retrieve(id);
      await stripe.customers.list({ limit: 100 });
      await committed();
      expect(size(journal)).toBe(before);
      before = size(journal);
      await stripe.customers.update(id, { name: 'Renamed' });
      await committed();
      expect(size(journal) - before).toBeGreaterThan(0);
      expect(size(journal) - before).toBeLessThan(3_000);
    } finally {
      await emulator.close();
    }
  });

  it('compacts into a snapshot and a new journal, keeping the state (also if it stops half-way)', async () => {
    const stateFile = freshPath();
    const handle = await startStripeEmulator();
    const journal = new StateFile(stateFile, handle.emulator, {
      compactAfterBytes: 60_000,
      compactChunk: 1,
      onError: (e) => {
        throw e;
      },
    });
    journal.load();
    journal.start();
    const stripe = createStripeAt(handle.url);
    const made: Awaited<ReturnType<typeof purchase>>[] = [];
    const crashCopy = freshPath();
    let afterRotation: Awaited<ReturnType<typeof purchase>> | null = null;
    const compacted = async () => {
      for (let i = 0; i < 2_000 && journal.compacting; i++) await committed();
      expect(journal.compacting).toBe(false);
    };
    try {
      // Compaction on its own once the journal outgrows its bound.
      for (let n = 0; n < 15; n++) made.push(await purchase(stripe, n, `compact:${n}`));
      await committed();
      await compacted();
      expect(journal.stats.compactions).toBeGreaterThanOrEqual(1);
      // These are only in the journal the next compaction rotates away.
      for (let n = 15; n < 18; n++) made.push(await purchase(stripe, n, `compact:${n}`));
      // One more, stopped half-way: a purchase lands in the new journal while the snapshot is written
      // (one object per turn of the event loop), and the files are copied as a crash would leave them.
      journal.compact();
      afterRotation = await purchase(stripe, 1000, 'compact:after');
      await committed();
      expect(journal.compacting).toBe(true);
      const dir = join(stateFile, '..');
      for (const name of readdirSync(dir)) cpSync(join(dir, name), join(crashCopy, '..', name));
      await compacted();
      // The reset is journaled too; then one more purchase.
      await fetch(`${handle.url}/_emulator/reset`, { method: 'POST' });
      const afterReset = await purchase(stripe, 2000, 'after-reset');
      await committed();
      journal.stop();
      const files = readdirSync(join(stateFile, '..'));
      expect(files.filter((f) => f.includes('.journal.'))).toHaveLength(1); // older journals deleted
      expect(readFileSync(stateFile, 'utf8').split('\n')[0]).toContain('"version":2');

      const second = await startStripeEmulator({ stateFile });
      try {
        const again = createStripeAt(second.url);
        const state = (await (await fetch(`${second.url}/_emulator/state`)).json()) as {
          counters: Record<string, number>;
        };
        expect(state.counters).toMatchObject({ customers: 1, paymentIntents: 1 });
        expect((await again.paymentIntents.retrieve(afterReset.intent.id)).status).toBe('succeeded');
      } finally {
        await second.close();
      }
    } finally {
      journal.stop();
      await handle.close();
    }

    // Without the reset: the files as a crash in the middle of the compaction left them (old snapshot or
    // none, the rotated journal and the new one, a temporary snapshot).
    expect(existsSync(`${crashCopy}.compact.tmp`)).toBe(true);
    const third = await startStripeEmulator({ stateFile: crashCopy });
    try {
      const again = createStripeAt(third.url);
      for (const { customer, intent } of [...made, afterRotation!]) {
        const listed = await again.paymentIntents.list({ customer: customer.id });
        expect(listed.data.map((pi) => pi.id)).toEqual([intent.id]);
      }
      const replay = await again.paymentIntents.create(
        {
          amount: 1000,
          currency: 'usd',
          customer: made[0]!.customer.id,
          payment_method: 'pm_card_visa',
          confirm: true,
          metadata: { purchase_id: 'pur_0' },
        },
        { idempotencyKey: 'compact:0' },
      );
      expect(replay.id).toBe(made[0]!.intent.id);
    } finally {
      await third.close();
    }
  });

  it('a compacted snapshot alone restores every object and idempotent answer', async () => {
    const stateFile = freshPath();
    const handle = await startStripeEmulator();
    const journal = new StateFile(stateFile, handle.emulator, { compactAfterBytes: 1 });
    journal.load();
    const stripe = createStripeAt(handle.url);
    const made: Awaited<ReturnType<typeof purchase>>[] = [];
    for (let n = 0; n < 10; n++) made.push(await purchase(stripe, n, `snap:${n}`));
    await committed();
    journal.compact();
    for (let i = 0; i < 100 && journal.compacting; i++) await committed();
    journal.stop();
    await handle.close();
    const { gen } = JSON.parse(readFileSync(stateFile, 'utf8').split('\n')[0] as string) as { gen: number };
    expect(gen).toBeGreaterThanOrEqual(1);
    // A journal older than the snapshot (a crash after the rename, before its deletion) is already in
    // the snapshot: it is not replayed, and it is deleted.
    const stale = `${stateFile}.journal.${gen - 1}`;
    writeFileSync(
      stale,
      `${JSON.stringify({ format: 'stripe-emulator-journal', version: 2, gen: gen - 1 })}\n[["d","paymentIntents","${made[0]!.intent.id}"]]\n`,
    );

    const second = await startStripeEmulator({ stateFile });
    try {
      expect(existsSync(stale)).toBe(false);
      const again = createStripeAt(second.url);
      for (const { customer, intent } of made) {
        expect((await again.paymentIntents.list({ customer: customer.id })).data.map((pi) => pi.id)).toEqual([
          intent.id,
        ]);
      }
      const all = await again.paymentIntents.list({ limit: 100 });
      expect(all.data.map((pi) => pi.id)).toEqual(made.map((m) => m.intent.id).reverse());
      const replay = await again.paymentIntents.create(
        {
          amount: 1009,
          currency: 'usd',
          customer: made[9]!.customer.id,
          payment_method: 'pm_card_visa',
          confirm: true,
          metadata: { purchase_id: 'pur_9' },
        },
        { idempotencyKey: 'snap:9' },
      );
      expect(replay.id).toBe(made[9]!.intent.id);
    } finally {
      await second.close();
    }
  });
});
