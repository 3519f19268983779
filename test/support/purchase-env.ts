import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import type Stripe from 'stripe';
import type { Activities } from '../../src/activities';
import type { Config } from '../../src/config';
import { createCustomer, createOrganization, createPlan, createSubscription } from '../../src/db/billing';
import { createSql, type Sql } from '../../src/db/client';
import { createCreditPack } from '../../src/db/credit-packs';
import type { PurchaseRow } from '../../src/db/purchases';
import type { ConsumptionModel, PackVisibility, SubscriptionStatus } from '../../src/domain/catalog';
import type { PurchaseStatus } from '../../src/domain/purchase-states';
import {
  checkout,
  createPurchase,
  type PurchaseTimeouts,
  purchaseTimeouts,
  startPurchaseWorkflow,
} from '../../src/purchases';
import { createStripe, createStripeAt } from '../../src/stripe/client';
import { purchaseStatusQuery, type purchaseWorkflow, purchaseWorkflowId } from '../../src/workflows';
import { startStripeEmulator } from '../../tools/stripe-emulator/index';
import { testConfig } from './config';
import { databaseNow, expectInvariantsHold } from './invariants';
import { StepTimer } from './slow-steps';
import { waitFor } from './wait';
import { startTestWorker, type TestTemporal } from './worker';

export interface PurchaseEnvOptions {
  /** An emulator of this test file's own (random port), so its faults cannot hit other files' requests. */
  privateEmulator?: boolean;
  cardWaitTimeoutMs?: number;
  authenticationWaitTimeoutMs?: number;
}

export interface Shopper {
  organizationId: string;
  customerId: string;
  planId: string;
  packId: string;
  stripeCustomerId: string | null;
  packCredits: number;
  packPriceCents: number;
}

export interface ShopperOptions {
  /** A Stripe test token whose card is attached as the default payment method; omit for no card. */
  card?: string;
  /**
   * A card recorded on our side only (POST /v1/customers defaultPaymentMethodId), with no Stripe
   * customer yet: the first purchase creates the Stripe customer and attaches it.
   */
  recordedCard?: string;
  consumptionModel?: ConsumptionModel;
  subscriptionStatus?: SubscriptionStatus;
  /** Restrict the pack to another plan (not the customer's). */
  packHiddenFromPlan?: boolean;
}

/**
 * Everything a purchase test needs, all real: the test stack's Postgres and Temporal, a worker made by
 * the project's own factory on a task queue of its own, and the Stripe emulator over HTTP.
 */
export async function purchaseEnv(options: PurchaseEnvOptions = {}) {
  const emulator = options.privateEmulator ? await startStripeEmulator({ host: '127.0.0.1', port: 0 }) : null;
  const base = testConfig();
  const config: Config = {
    ...base,
    CARD_WAIT_TIMEOUT_MS: options.cardWaitTimeoutMs ?? 20_000,
    AUTHENTICATION_WAIT_TIMEOUT_MS: options.authenticationWaitTimeoutMs ?? 20_000,
    stripeEmulatorUrl: emulator?.url ?? base.stripeEmulatorUrl,
  };
  const stripe: Stripe = emulator ? createStripeAt(emulator.url) : createStripe(config);
  const sql: Sql = createSql(config.databaseUrl);
  const temporal: TestTemporal = await startTestWorker(config, sql, stripe);
  const startedAt = await databaseNow(sql);
  const workerConfig: Config = { ...config, TEMPORAL_TASK_QUEUE: temporal.taskQueue };

  async function shopper(opts: ShopperOptions = {}): Promise<Shopper> {
    const tag = randomUUID().slice(0, 8);
    const { organization } = await createOrganization(sql, { name: `Test org ${tag}` });
    const plan = await createPlan(sql, organization.id, {
      name: `Plan ${tag}`,
      consumptionModel: opts.consumptionModel ?? 'credits',
      isFree: false,
      // no plan credits: these tests count purchased credits, and plan: 0 keeps balances exact
      includedCredits: 0,
    });
    const otherPlan = await createPlan(sql, organization.id, {
      name: `Enterprise ${tag}`,
      consumptionModel: 'credits',
      isFree: false,
      includedCredits: 1000,
    });
    let stripeCustomerId: string | null = null;
    if (opts.card) {
      const customer = await stripe.customers.create({
        email: `${tag}@example.test`,
        name: `Shopper ${tag}`,
      });
      const paymentMethod = await stripe.paymentMethods.attach(opts.card, { customer: customer.id });
      await stripe.customers.update(customer.id, {
        invoice_settings: { default_payment_method: paymentMethod.id },
      });
      stripeCustomerId = customer.id;
    }
    const customer = await createCustomer(sql, organization.id, {
      email: `${tag}@example.test`,
      name: `Shopper ${tag}`,
      stripeCustomerId,
      defaultPaymentMethodId: opts.recordedCard ?? null,
    });
    await createSubscription(sql, organization.id, {
      customerId: customer.id,
      planId: plan.id,
      status: opts.subscriptionStatus ?? 'active',
    });
    const visibility: PackVisibility = opts.packHiddenFromPlan
      ? { type: 'plans', planIds: [otherPlan.id] }
      : { type: 'all_credits_plans' };
    const pack = await createCreditPack(sql, organization.id, {
      name: `Power Pack ${tag}`,
      credits: 500,
      price: 4000,
      visibility,
    });
    return {
      organizationId: organization.id,
      customerId: customer.id,
      planId: plan.id,
      packId: pack.id,
      stripeCustomerId,
      packCredits: 500,
      packPriceCents: 4000,
    };
  }

  /** Checks out like the portal does (a fresh idempotency key unless given), starting the workflow. */
  async function buy(
    who: Shopper,
    {
      quantity = 1,
      idempotencyKey = randomUUID() as string,
      cardWaitTimeoutMs = workerConfig.CARD_WAIT_TIMEOUT_MS,
      authenticationWaitTimeoutMs = workerConfig.AUTHENTICATION_WAIT_TIMEOUT_MS,
      stripeRecheckIntervalMs = workerConfig.STRIPE_RECHECK_INTERVAL_MS,
      stripeRecheckMaxIntervalMs = Math.max(
        stripeRecheckIntervalMs,
        workerConfig.STRIPE_RECHECK_MAX_INTERVAL_MS,
      ),
    } = {},
  ) {
    const config: Config = {
      ...workerConfig,
      CARD_WAIT_TIMEOUT_MS: cardWaitTimeoutMs,
      AUTHENTICATION_WAIT_TIMEOUT_MS: authenticationWaitTimeoutMs,
      STRIPE_RECHECK_INTERVAL_MS: stripeRecheckIntervalMs,
      STRIPE_RECHECK_MAX_INTERVAL_MS: stripeRecheckMaxIntervalMs,
    };
    const { purchase } = await checkout(
      { sql, client: temporal.client, config },
      {
        organizationId: who.organizationId,
        customerId: who.customerId,
        creditPackId: who.packId,
        quantity,
        idempotencyKey,
      },
    );
    const handle: WorkflowHandle<typeof purchaseWorkflow> = temporal.client.workflow.getHandle(
      purchaseWorkflowId(purchase.id),
    );
    return { purchaseId: purchase.id, handle };
  }

  /**
   * Checkout in two steps, so a test can change the world between recording the purchase and its
   * workflow's start (e.g. archive the pack, delete the customer).
   */
  /** A second worker of the real activities but `overrides`, on a task queue of its own; closed with the env. */
  const extraWorkers: TestTemporal[] = [];
  async function workerWith(overrides: Partial<Activities>): Promise<{ taskQueue: string }> {
    const worker = await startTestWorker(workerConfig, sql, stripe, overrides);
    extraWorkers.push(worker);
    return { taskQueue: worker.taskQueue };
  }

  async function record(who: Shopper, { quantity = 1 } = {}) {
    const { purchase } = await createPurchase(
      sql,
      {
        organizationId: who.organizationId,
        customerId: who.customerId,
        creditPackId: who.packId,
        quantity,
        idempotencyKey: randomUUID(),
      },
      { maxQuantity: workerConfig.MAX_PURCHASE_QUANTITY },
    );
    return {
      purchaseId: purchase.id,
      /** Starts its workflow: on this env's worker, or on `taskQueue` (a `workerWith` worker). */
      start: async ({
        taskQueue = temporal.taskQueue,
        timeouts = {},
      }: {
        taskQueue?: string;
        timeouts?: Partial<PurchaseTimeouts>;
      } = {}) => {
        await startPurchaseWorkflow(temporal.client, purchase, {
          taskQueue,
          timeouts: { ...purchaseTimeouts(workerConfig), ...timeouts },
        });
        const handle: WorkflowHandle<typeof purchaseWorkflow> = temporal.client.workflow.getHandle(
          purchaseWorkflowId(purchase.id),
        );
        return handle;
      },
    };
  }

  async function row(purchaseId: string) {
    const [found] = await sql<
      (PurchaseRow & {
        stripe_setup_intent_id: string | null;
        stripe_payment_intent_id: string | null;
        stripe_refund_id: string | null;
        failure_decline_code: string | null;
      })[]
    >`
      select * from purchases where id = ${purchaseId}`;
    if (!found) throw new Error(`no purchase ${purchaseId}`);
    return found;
  }

  /** Waits until the workflow reports `status` (query), then returns the workflow state. */
  async function reaches(
    handle: WorkflowHandle<typeof purchaseWorkflow>,
    status: PurchaseStatus,
    timeoutMs = 30_000,
  ) {
    // The query answers from the workflow's memory; the row follows once the status is recorded.
    return waitFor(
      async () => {
        const state = await handle.query(purchaseStatusQuery).catch(() => null);
        if (state?.status !== status) return null;
        const [recorded] = await sql<
          { status: string }[]
        >`select status from purchases where id = ${state.purchaseId}`;
        return recorded?.status === status ? state : null;
      },
      `purchase to reach ${status}`,
      timeoutMs,
    );
  }

  async function balance(who: Shopper) {
    const [found] = await sql<{ purchased: number; plan: number }[]>`
      select coalesce(sum(credits) filter (where bucket = 'purchased'), 0)::int as purchased,
             coalesce(sum(credits) filter (where bucket = 'plan'), 0)::int as plan
        from credit_ledger where organization_id = ${who.organizationId} and customer_id = ${who.customerId}`;
    return found ?? { purchased: 0, plan: 0 };
  }

  return {
    config: workerConfig,
    sql,
    stripe,
    temporal,
    emulatorUrl: config.stripeEmulatorUrl,
    shopper,
    buy,
    record,
    workerWith,
    row,
    reaches,
    balance,
    /**
     * Settles the purchases still open on this environment's task queue (canceled, as an operator
     * would: a purchase whose worker is gone would otherwise stay open for good), stops the worker,
     * then checks the money invariants.
     */
    async close() {
      const timer = new StepTimer(`closing the environment of task queue ${temporal.taskQueue}`);
      try {
        await timer.step('cancel open workflows', () => cancelOpenWorkflows(temporal));
        await timer.step('stop extra workers', async () => {
          for (const worker of extraWorkers) await worker.close();
        });
        await timer.step('stop the worker', () => temporal.close());
        try {
          await timer.step('check invariants', () => expectInvariantsHold({ sql, stripe }, startedAt));
        } finally {
          await timer.step('end sql', () => sql.end({ timeout: 5 }));
          await timer.step('stop emulator', async () => emulator?.close());
        }
      } finally {
        timer.report();
      }
    },
  };
}

export type PurchaseEnv = Awaited<ReturnType<typeof purchaseEnv>>;

/** Cancels every workflow still running on the worker's task queue and waits (bounded) for each to end. */
async function cancelOpenWorkflows(temporal: TestTemporal, timeoutMs = 30_000): Promise<void> {
  const query = `TaskQueue = '${temporal.taskQueue}' AND ExecutionStatus = 'Running'`;
  const handles: WorkflowHandle[] = [];
  for await (const execution of temporal.client.workflow.list({ query })) {
    const handle = temporal.client.workflow.getHandle(execution.workflowId, execution.runId);
    await handle.cancel().catch(() => undefined); // it may have ended meanwhile
    handles.push(handle);
  }
  const deadline = new Promise((resolve) => setTimeout(resolve, timeoutMs).unref());
  await Promise.race([Promise.allSettled(handles.map((h) => h.result())), deadline]);
}
