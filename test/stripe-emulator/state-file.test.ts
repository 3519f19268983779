import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createStripeAt } from '../../src/stripe/client';
import { startStripeEmulator } from '../../tools/stripe-emulator/index';

/** The product run's emulator keeps its account in a file, as Stripe keeps an account across restarts. */
describe('the emulator state file', () => {
  it('keeps customers, cards, charges, refunds and idempotent answers across a restart', async () => {
    const stateFile = join(mkdtempSync(join(tmpdir(), 'emulator-state-')), 'state.json');
    const first = await startStripeEmulator({ stateFile });
    const stripe = createStripeAt(first.url);
    const customer = await stripe.customers.create({ email: 'kept@example.test' });
    const card = await stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
    const chargeParams = {
      amount: 4000,
      currency: 'usd',
      customer: customer.id,
      payment_method: card.id,
      confirm: true,
      off_session: true,
      metadata: { purchase_id: 'pur_keptAcrossRestart' },
    };
    const charged = await stripe.paymentIntents.create(chargeParams, { idempotencyKey: 'pur_kept:charge' });
    await stripe.refunds.create({ payment_intent: charged.id, amount: 1000 });
    await first.close();

    const second = await startStripeEmulator({ stateFile });
    try {
      const again = createStripeAt(second.url);
      expect((await again.customers.retrieve(customer.id)) as { email: string }).toMatchObject({
        email: 'kept@example.test',
      });
      const listed = await again.paymentIntents.list({ customer: customer.id });
      expect(listed.data.map((pi) => [pi.id, pi.status])).toEqual([[charged.id, 'succeeded']]);
      expect((await again.refunds.list({ payment_intent: charged.id })).data.map((r) => r.amount)).toEqual([
        1000,
      ]);
      // The charge's idempotency key still replays its first answer: a retried charge is not a second one.
      const replay = await again.paymentIntents.create(chargeParams, { idempotencyKey: 'pur_kept:charge' });
      expect(replay.id).toBe(charged.id);
      expect((replay.lastResponse.headers as Record<string, string>)['idempotent-replayed']).toBe('true');
      // The saved card still behaves as its test card: another charge succeeds.
      const next = await again.paymentIntents.create({ ...chargeParams, metadata: {} });
      expect(next.status).toBe('succeeded');
      expect((await again.paymentIntents.list({ customer: customer.id })).data).toHaveLength(2);
    } finally {
      await second.close();
    }
    // Kept as journal records (state-file.ts), not a whole-account file: two PaymentIntents written.
    const records = readFileSync(`${stateFile}.journal.0`, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .flatMap((line) => JSON.parse(line) as unknown[][]);
    const intents = new Set(
      records.filter((r) => r[0] === 'p' && r[1] === 'paymentIntents').map((r) => r[2]),
    );
    expect(intents.size).toBe(2);
  });

  it('keeps disputes and refund statuses across a restart; reads a file written before disputes existed', async () => {
    const stateFile = join(mkdtempSync(join(tmpdir(), 'emulator-state-')), 'state.json');
    const first = await startStripeEmulator({ stateFile });
    const stripe = createStripeAt(first.url);
    const disputed = await stripe.paymentIntents.create({
      amount: 1500,
      currency: 'usd',
      payment_method: 'pm_card_createDispute',
      confirm: true,
    });
    const refundFails = await stripe.paymentIntents.create({
      amount: 900,
      currency: 'usd',
      payment_method: 'pm_card_refundFail',
      confirm: true,
    });
    const refund = await stripe.refunds.create({ payment_intent: refundFails.id });
    const dispute = (await stripe.disputes.list({ payment_intent: disputed.id })).data[0]!;
    await first.close();

    const second = await startStripeEmulator({ stateFile });
    try {
      const again = createStripeAt(second.url);
      expect(await again.disputes.retrieve(dispute.id)).toMatchObject({
        status: 'needs_response',
        charge: disputed.latest_charge,
      });
      expect((await again.charges.retrieve(disputed.latest_charge as string)).disputed).toBe(true);
      expect((await again.refunds.retrieve(refund.id)).status).toBe('failed');
      // reset clears disputes like every other object
      await fetch(`${second.url}/_emulator/reset`, { method: 'POST' });
      expect((await again.disputes.list()).data).toEqual([]);
    } finally {
      await second.close();
    }

    // A file of format 1 (the whole account in one JSON document, as saved before the journal),
    // written before disputes existed: no `disputes`, charges without `disputed`.
    const first2 = await startStripeEmulator();
    const charged = await createStripeAt(first2.url).paymentIntents.create({
      amount: 700,
      currency: 'usd',
      payment_method: 'pm_card_visa',
      confirm: true,
    });
    const dump = (await (await fetch(`${first2.url}/_emulator/state`)).json()) as Record<
      string,
      { id: string; _emulator?: unknown; disputed?: boolean }[]
    >;
    await first2.close();
    const entries = (name: string) => (dump[name] ?? []).map((o) => [o.id, o]);
    for (const pi of dump.paymentIntents ?? []) delete pi._emulator;
    for (const c of dump.charges ?? []) delete c.disputed;
    const old = join(mkdtempSync(join(tmpdir(), 'emulator-state-')), 'state.json');
    writeFileSync(
      old,
      JSON.stringify({
        version: 1,
        store: {
          customers: entries('customers'),
          paymentMethods: entries('paymentMethods'),
          cardInfo: [],
          setupIntents: entries('setupIntents'),
          paymentIntents: entries('paymentIntents'),
          piStats: [],
          charges: entries('charges'),
          refunds: entries('refunds'),
          events: entries('events'),
        },
        idempotency: [],
      }),
    );
    const third = await startStripeEmulator({ stateFile: old });
    try {
      const s3 = createStripeAt(third.url);
      expect((await s3.charges.retrieve(charged.latest_charge as string)).disputed).toBe(false);
      expect((await s3.disputes.list()).data).toEqual([]);
    } finally {
      await third.close();
    }
  });

  it('refuses an unreadable state file, naming it, instead of starting empty', async () => {
    const stateFile = join(mkdtempSync(join(tmpdir(), 'emulator-state-')), 'state.json');
    writeFileSync(stateFile, '{"version":1,"store":');
    await expect(startStripeEmulator({ stateFile })).rejects.toThrow(
      `${stateFile} is not a readable state file`,
    );
  });

  it('refuses a state file of another format instead of starting empty', async () => {
    const stateFile = join(mkdtempSync(join(tmpdir(), 'emulator-state-')), 'state.json');
    writeFileSync(stateFile, JSON.stringify({ version: 99, store: {}, idempotency: [] }));
    await expect(startStripeEmulator({ stateFile })).rejects.toThrow(
      /state format 99, expected 2 \(or 1\); move it away/,
    );
  });
});
