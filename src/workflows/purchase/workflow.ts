import { RetryState } from '@temporalio/common';
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  CancellationScope,
  condition,
  log,
  patched,
  setCurrentDetails,
  setHandler,
  TemporalFailure,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { EligibilityOutcome } from '../../activities/eligibility';
import type { AuthenticationRequiredDetails, CardDeclinedDetails } from '../../activities/failures';
import { FailureType } from '../../activities/failures';
import type { PaymentParties, SetupIntentRequest } from '../../activities/payments';
import { isTerminalPurchaseStatus, type NextAction, type PurchaseStatus } from '../../domain/purchase-states';
import { recheckIntervalMs as scheduledInterval } from '../../domain/stripe-rechecks';
import { compensation, db, dbLocal, stripe, stripeRecheck } from './activities';
import { Compensations } from './compensations';
import {
  cancelPurchaseUpdate,
  type PaymentOutcome,
  type PurchaseFailure,
  type PurchaseInput,
  type PurchaseState,
  paymentMethodAddedSignal,
  paymentOutcomeSignal,
  purchaseStatusQuery,
} from './messages';
import { AutoTopUpPausedKey, PurchaseStatusKey } from './search-attributes';

/**
 * The 2026-11-27 cut of the purchase's round trips to Temporal (issue 16), three changes, each behind a
 * patch asked where its path differs: a purchase recorded before replays its old path, and one in flight
 * at the deploy takes the new path from that point on (a patch missing on replay is decided again when
 * the run goes live). A card-on-file purchase went from 7 workflow tasks and 44 history events to 4
 * (see docs/scaling.md for the events, which include each patch's marker and the SDK's
 * TemporalChangeVersion upsert until the patches are removed).
 */
/**
 * The status writes folded into the steps: the charge activity records `charging` before it calls
 * Stripe, and the grant's transaction records `crediting` and `completed`; no status write of their own.
 * Asked at both points (the second answer is the first's, unless the first was during replay).
 */
export const STATUS_WRITES_IN_STEPS_PATCH = '2026-11-27-status-writes-in-steps';
/** Eligibility (the run's claim and a few reads) as a local activity instead of a regular one. */
export const ELIGIBILITY_LOCAL_PATCH = '2026-11-27-eligibility-local-activity';
/** No search attribute upsert for the transient `crediting` (charging and completed keep theirs). */
export const NO_CREDITING_UPSERT_PATCH = '2026-11-27-no-crediting-upsert';

/**
 * One marker instead of many (issue 16, second cut). Each patch a run takes costs it a marker event, an
 * upsert of the SDK's TemporalChangeVersion search attribute and a visibility write on the server
 * (a card-on-file purchase took three). A run that records this one, asked once before its first
 * command, takes the new path of every patch above and below without asking for them
 * (`sinceOneMarker`); a run recorded without it asks each where it always did, so every stored
 * history replays as before. Its own change: the card step asks Stripe for the SetupIntent in the
 * same activity that finds the card on file (`ensureStripeCustomer` with `askForCard`), one activity
 * and one workflow task fewer for a purchase that must ask the customer for a card.
 */
export const ONE_MARKER_PATCH = '2026-11-27-one-marker';

/** Statuses in which the customer may still cancel: nothing is being charged right now. */
const cancelableStatuses: readonly PurchaseStatus[] = [
  'pending',
  'awaiting_payment_method',
  'requires_action',
];

/**
 * One credit-pack purchase, from checkout to a terminal state (docs/domain.md#the-purchase-workflow):
 *
 *   pending → [awaiting_payment_method] → charging → [requires_action] → crediting → completed
 *   terminal failures: ineligible, expired, failed, refunded, canceled
 *
 * The workflow only orchestrates; activities do the Stripe and Postgres I/O. Every step that leaves
 * something to undo registers its compensation first (SetupIntent cancel, PaymentIntent cancel,
 * refund), and every way out of the happy path runs them. Cancellation, by the customer (update) or
 * by an operator (Temporal cancel), only raises a flag that the steps check at safe points, so a
 * charge in flight is never abandoned halfway: it finishes, and then is refunded.
 */
export async function purchaseWorkflow(input: PurchaseInput): Promise<PurchaseState> {
  const state: PurchaseState = {
    purchaseId: input.purchaseId,
    status: 'pending',
    nextAction: null,
    failure: null,
    setupIntentId: null,
    paymentIntentId: null,
    refundId: null,
    cancelRequested: false,
  };
  const compensations = new Compensations();
  /** Whether this run records the one marker (asked first, before any command: see ONE_MARKER_PATCH). */
  const oneMarker = patched(ONE_MARKER_PATCH);
  /** An earlier patch's answer: true without asking for a run past the one marker, else asked here. */
  const sinceOneMarker = (patchId: string): boolean => oneMarker || patched(patchId);
  /** Set once the purchase is being settled on a failure path: a failure inside that is not retried. */
  let settling = false;
  /** Set right before the charge request: only then can a refund have anything to find. */
  let chargeAttempted = false;
  let cancelRequestedBy: 'customer' | 'operator' = 'customer';
  /** Hints from webhooks or the portal; the truth is always re-read from Stripe. */
  let setupIntentHint = false;
  let paymentOutcomeHint: PaymentOutcome | null = null;

  /**
   * How often a wait re-reads Stripe (null: not at all). Behind patched(): purchases started before
   * this existed carry no interval and replay their original waits; new ones record the marker.
   */
  const stripeRecheckIntervalMs = (): number | null =>
    input.stripeRecheckIntervalMs && sinceOneMarker('recheck-stripe-during-waits')
      ? input.stripeRecheckIntervalMs
      : null;
  /**
   * The interval before a wait's re-read number `rechecksDone + 1`: the first interval, doubled after
   * each re-read up to the input's maximum, so a purchase left parked for a day asks Stripe a few dozen
   * times, not every five minutes (10,000 parked purchases would otherwise ask ~33 times a second,
   * over Stripe's test-mode rate limit). Only the timers' durations change, never the commands, and
   * replay does not compare durations; purchases started without a maximum keep the fixed interval.
   */
  const recheckIntervalMs = (rechecksDone: number): number | null => {
    const first = stripeRecheckIntervalMs();
    return first === null ? null : scheduledInterval(first, input.stripeRecheckMaxIntervalMs, rechecksDone);
  };

  /**
   * An auto top-up is charged off-session only and never waits for the customer: no card on file fails
   * it (`no_payment_method`) instead of asking for one, and a charge that needs 3-D Secure is canceled
   * and fails it (`authentication_required`) instead of waiting up to an hour. Behind patched(): only
   * auto top-ups call it (their input names the trigger), so no other purchase's history changes, and
   * only where their path differs (asked there, so a top-up's history starts as any purchase's).
   */
  const offSessionOnly = (): boolean =>
    input.trigger === 'auto_top_up' && sinceOneMarker('auto-top-up-off-session-only');

  // ── Messages ──────────────────────────────────────────────────────────────────────────────────────
  setHandler(purchaseStatusQuery, () => ({ ...state }));
  setHandler(paymentMethodAddedSignal, ({ setupIntentId }) => {
    if (setupIntentId === state.setupIntentId) setupIntentHint = true;
  });
  setHandler(paymentOutcomeSignal, (outcome) => {
    if (outcome.paymentIntentId === state.paymentIntentId) paymentOutcomeHint = outcome;
  });
  setHandler(
    cancelPurchaseUpdate,
    async ({ requestedBy }) => {
      requestCancel(requestedBy);
      await condition(() => isTerminalPurchaseStatus(state.status));
      return { ...state };
    },
    {
      validator: ({ requestedBy }) => {
        if (requestedBy !== 'customer' && requestedBy !== 'operator') {
          throw ApplicationFailure.nonRetryable(
            `unknown requester ${String(requestedBy)}`,
            'InvalidCancelRequest',
          );
        }
        if (!cancelableStatuses.includes(state.status)) {
          throw ApplicationFailure.nonRetryable(
            `purchase ${state.purchaseId} is ${state.status} and can no longer be canceled`,
            'PurchaseNotCancelable',
          );
        }
      },
    },
  );
  // An operator's Temporal cancellation is the same request as the customer's, honoured at safe points.
  CancellationScope.current().cancelRequested.catch(() => requestCancel('operator'));

  function requestCancel(by: 'customer' | 'operator'): void {
    if (state.cancelRequested) return;
    state.cancelRequested = true;
    cancelRequestedBy = by;
  }

  // ── State: every transition goes to the workflow state, the row, the search attribute, the UI ─────
  /** The workflow's own view of a transition: its state (the query), and the UI's current details. */
  function show(
    status: PurchaseStatus,
    nextAction: NextAction | null,
    failure: PurchaseFailure | null,
  ): void {
    state.status = status;
    state.nextAction = nextAction;
    state.failure = failure;
    setCurrentDetails(`**${status}**${failure ? `: ${failure.code}: ${failure.message}` : ''}`);
  }

  async function transition(
    status: PurchaseStatus,
    {
      nextAction = null,
      failure = null,
      upsert = true,
    }: { nextAction?: NextAction | null; failure?: PurchaseFailure | null; upsert?: boolean } = {},
  ): Promise<void> {
    if (upsert) upsertSearchAttributes([{ key: PurchaseStatusKey, value: status }]);
    show(status, nextAction, failure);
    const recorded = await db.recordPurchaseStatus.executeWithOptions(
      { summary: `record status ${status}` },
      [
        {
          purchaseId: state.purchaseId,
          status,
          nextAction,
          failure,
          setupIntentId: state.setupIntentId,
          paymentIntentId: state.paymentIntentId,
          refundId: state.refundId,
        },
      ],
    );
    // An auto top-up whose outcome paused the customer's auto top-up says so, for operators to find
    // (only auto top-ups, all started after 'auto-top-up-off-session-only': no older history changes).
    if (isTerminalPurchaseStatus(status) && recorded?.autoTopUpPausedReason && offSessionOnly()) {
      upsertSearchAttributes([{ key: AutoTopUpPausedKey, value: recorded.autoTopUpPausedReason }]);
    }
  }

  /**
   * Ends the purchase on a failure: undo what is outstanding, newest first, then settle. If a refund
   * was among the compensations (money was taken), the purchase ends `refunded` whatever the cause.
   */
  async function fail(status: PurchaseStatus, failure: PurchaseFailure): Promise<void> {
    settling = true;
    try {
      await compensations.runAll();
    } catch (error) {
      // An undo that cannot be done (a refund Stripe keeps refusing after days of retries) is not
      // papered over: the workflow fails loudly, the row keeps its in-flight status, and the
      // outstanding step is named for the operator.
      throw ApplicationFailure.nonRetryable(
        `purchase ${state.purchaseId}: compensation failed, operator action needed: ${
          error instanceof ActivityFailure ? (error.cause?.message ?? error.message) : String(error)
        }`,
        'CompensationFailed',
      );
    }
    await transition(state.refundId ? 'refunded' : status, { failure });
  }

  const canceledFailure = (): PurchaseFailure => ({
    code: 'canceled',
    message: cancelRequestedBy === 'customer' ? 'Canceled by the customer.' : 'Canceled by an operator.',
  });

  // ── The purchase ─────────────────────────────────────────────────────────────────────────────────
  async function run(): Promise<void> {
    // 1. Eligibility, on the live data, with the amounts snapshotted at checkout.
    // A local activity (src/workflows/purchase/activities.ts): the claim and the reads take
    // milliseconds, so they run inside this first workflow task instead of a round trip of their own.
    let verdict: EligibilityOutcome;
    try {
      verdict = sinceOneMarker(ELIGIBILITY_LOCAL_PATCH)
        ? await asActivityFailure(
            'checkPurchaseEligibility',
            dbLocal.checkPurchaseEligibility.executeWithOptions({ summary: 'check eligibility' }, [
              { purchaseId: input.purchaseId },
            ]),
          )
        : await db.checkPurchaseEligibility.executeWithOptions({ summary: 'check eligibility' }, [
            { purchaseId: input.purchaseId },
          ]);
    } catch (error) {
      // Another run drives this purchase, or it was settled before this run began: touch nothing.
      const claimed = typedFailure(error, FailureType.PurchaseClaimedElsewhere);
      if (!claimed) throw error;
      log.warn('purchase not claimed by this run; leaving it alone', { reason: claimed.message });
      state.failure = { code: 'purchase_claimed_elsewhere', message: claimed.message };
      return;
    }
    if (!verdict.eligible) {
      return transition('ineligible', { failure: { code: verdict.code, message: verdict.message } });
    }
    if (state.cancelRequested) return fail('canceled', canceledFailure());

    // 2. A card on file, or ask the customer for one.
    // Past the one marker, the same activity also asks Stripe for the SetupIntent when there is no
    // card on file, unless this purchase must not ask (an auto top-up).
    let parties: PaymentParties;
    try {
      parties = await stripe.ensureStripeCustomer.executeWithOptions({ summary: 'find the card on file' }, [
        {
          purchaseId: input.purchaseId,
          organizationId: input.organizationId,
          customerId: input.customerId,
          ...(oneMarker && !offSessionOnly() ? { askForCard: true } : {}),
        },
      ]);
    } catch (error) {
      // A card recorded on our side only, that Stripe declines when it is attached.
      const declined = typedFailure(error, FailureType.CardDeclined);
      if (!declined) throw error;
      return fail('failed', declinedFailure(declined.details?.[0] as CardDeclinedDetails));
    }
    if (parties.paymentMethodId === null && offSessionOnly()) {
      return fail('failed', {
        code: 'no_payment_method',
        message: 'There is no card on file to charge for the auto top-up. Nothing was charged.',
      });
    }
    const paymentMethodId =
      parties.paymentMethodId ?? (await collectPaymentMethod(parties.stripeCustomerId, parties.setupIntent));
    if (paymentMethodId === null) return; // settled: expired or canceled
    if (state.cancelRequested) return fail('canceled', canceledFailure());

    // 3. The charge. Its compensation is registered first: if anything goes wrong after this point,
    //    whatever this purchase's key charged is refunded.
    compensations.add('refund', async () => {
      if (!chargeAttempted) return; // nothing was sent to Stripe: nothing to refund
      const { refundId } = await compensation.refundPayment.executeWithOptions(
        { summary: 'refund the charge' },
        [
          {
            purchaseId: input.purchaseId,
            paymentIntentId: state.paymentIntentId,
            stripeCustomerId: parties.stripeCustomerId,
            amountCents: verdict.priceCents,
          },
        ],
      );
      state.refundId = refundId;
    });
    // The charge activity records `charging` in the row itself, before it calls Stripe. The search
    // attribute stays: a charge stuck in a Stripe outage (6 h of retries) must be findable as charging.
    const chargeRecordsCharging = sinceOneMarker(STATUS_WRITES_IN_STEPS_PATCH);
    if (chargeRecordsCharging) {
      upsertSearchAttributes([{ key: PurchaseStatusKey, value: 'charging' }]);
      show('charging', null, null);
    } else {
      await transition('charging');
    }
    const charged = await charge(
      parties.stripeCustomerId,
      paymentMethodId,
      verdict.priceCents,
      chargeRecordsCharging,
    );
    if (!charged) return; // settled: failed, expired or canceled

    // 4. A cancel that arrived while the charge was under way is honoured by refunding it.
    if (state.cancelRequested) return fail('canceled', canceledFailure());

    // 5. Credit: one transaction that grants the credits and completes the purchase, idempotent in the
    //    database. If it cannot complete, the charge is refunded.
    // The grant's transaction records `crediting` (and the PaymentIntent) itself, then grants and
    // completes. No search attribute for crediting: it lasts one Postgres transaction, so operators
    // would only ever see it on a purchase whose grant keeps retrying through a database outage, and
    // that one still shows `charging` there, `crediting` in its details, its query and its row.
    // (`charging` keeps its upsert: a charge stuck in a Stripe outage must be findable; `completed`
    // keeps its own, the status operators filter on most.)
    const grantRecordsCrediting = sinceOneMarker(STATUS_WRITES_IN_STEPS_PATCH);
    const upsertCrediting = !sinceOneMarker(NO_CREDITING_UPSERT_PATCH);
    if (grantRecordsCrediting) {
      if (upsertCrediting) upsertSearchAttributes([{ key: PurchaseStatusKey, value: 'crediting' }]);
      show('crediting', null, null);
    } else {
      await transition('crediting', { upsert: upsertCrediting });
    }
    try {
      await db.grantPurchasedCredits.executeWithOptions({ summary: `grant ${verdict.credits} credits` }, [
        {
          purchaseId: input.purchaseId,
          ...(grantRecordsCrediting ? { recordCrediting: { paymentIntentId: state.paymentIntentId } } : {}),
        },
      ]);
    } catch (error) {
      if (!(error instanceof ActivityFailure)) throw error;
      log.error('crediting failed; refunding', { error: error.cause?.message ?? error.message });
      return fail('refunded', {
        code: 'crediting_failed',
        message: 'The credits could not be granted, so the payment was refunded.',
      });
    }
    compensations.remove('refund');
    state.status = 'completed';
    state.nextAction = null;
    upsertSearchAttributes([{ key: PurchaseStatusKey, value: 'completed' }]);
    setCurrentDetails('**completed**');
  }

  /**
   * No card on file: a SetupIntent whose client secret the portal uses to collect one, then a wait for
   * "card added" (bounded by cardWaitTimeoutMs). Returns the new card, or null once settled.
   */
  async function collectPaymentMethod(
    stripeCustomerId: string,
    askedFor: SetupIntentRequest | undefined,
  ): Promise<string | null> {
    // Past the one marker, the card-on-file step made the SetupIntent already.
    const setupIntent =
      askedFor ??
      (await stripe.createSetupIntent.executeWithOptions({ summary: 'ask for a card' }, [
        { purchaseId: input.purchaseId, organizationId: input.organizationId, stripeCustomerId },
      ]));
    state.setupIntentId = setupIntent.setupIntentId;
    compensations.add('cancel SetupIntent', async () => {
      await compensation.cancelSetupIntent.executeWithOptions({ summary: 'cancel the card request' }, [
        { purchaseId: input.purchaseId, setupIntentId: setupIntent.setupIntentId },
      ]);
    });
    await transition('awaiting_payment_method', {
      nextAction: { type: 'add_payment_method', clientSecret: setupIntent.clientSecret },
    });

    const adoptArgs = {
      purchaseId: input.purchaseId,
      organizationId: input.organizationId,
      customerId: input.customerId,
      stripeCustomerId,
      setupIntentId: setupIntent.setupIntentId,
    };
    const adopt = () =>
      stripe.adoptSetupIntentPaymentMethod.executeWithOptions({ summary: 'read the added card' }, [
        adoptArgs,
      ]);
    /** The periodic re-read: best effort, a failure just means "not yet". */
    const recheckAdopt = () =>
      bestEffort(
        stripeRecheck.adoptSetupIntentPaymentMethod.executeWithOptions(
          { summary: 're-read the card request (no message yet)' },
          [adoptArgs],
        ),
      );
    const deadline = Date.now() + input.cardWaitTimeoutMs;
    for (let rechecks = 0; ; ) {
      const recheckMs = recheckIntervalMs(rechecks);
      const woken = await condition(
        () => setupIntentHint || state.cancelRequested,
        nextWake(deadline, recheckMs),
      );
      if (state.cancelRequested) {
        await fail('canceled', canceledFailure());
        return null;
      }
      // A message, or time to re-read Stripe in case the messages were lost: both re-read the SetupIntent.
      if (woken || !deadlinePassed(deadline, recheckMs)) {
        setupIntentHint = false;
        if (!woken) rechecks++;
        const added = woken ? await adopt() : await recheckAdopt();
        if (added) {
          compensations.remove('cancel SetupIntent');
          return added.paymentMethodId;
        }
        continue; // the SetupIntent has not succeeded (yet): keep waiting
      }
      // Timed out. The card may have been added at the last moment: canceling tells.
      const { status } = await stripe.cancelSetupIntent.executeWithOptions(
        { summary: 'cancel the card request' },
        [{ purchaseId: input.purchaseId, setupIntentId: setupIntent.setupIntentId }],
      );
      compensations.remove('cancel SetupIntent');
      const added = status === 'succeeded' ? await adopt() : null;
      if (added) return added.paymentMethodId;
      await fail('expired', {
        code: 'payment_method_not_added',
        message: 'No card was added in time, so the purchase expired. Nothing was charged.',
      });
      return null;
    }
  }

  /** The off-session charge, and the 3-D Secure detour when the bank asks for it. True once charged. */
  async function charge(
    stripeCustomerId: string,
    paymentMethodId: string,
    amountCents: number,
    recordsCharging: boolean,
  ): Promise<boolean> {
    chargeAttempted = true;
    try {
      const result = await stripe.chargeOffSession.executeWithOptions(
        { summary: `charge ${amountCents} cents off-session` },
        [
          {
            purchaseId: input.purchaseId,
            organizationId: input.organizationId,
            stripeCustomerId,
            paymentMethodId,
            amountCents,
            currency: 'usd',
            ...(recordsCharging ? { recordCharging: { setupIntentId: state.setupIntentId } } : {}),
          },
        ],
      );
      state.paymentIntentId = result.paymentIntentId;
      return true;
    } catch (error) {
      const declined = typedFailure(error, FailureType.CardDeclined);
      if (declined) {
        const details = declined.details?.[0] as CardDeclinedDetails;
        state.paymentIntentId = details.paymentIntentId;
        compensations.remove('refund'); // a declined PaymentIntent took no money
        await fail('failed', declinedFailure(details));
        return false;
      }
      const authentication = typedFailure(error, FailureType.AuthenticationRequired);
      if (authentication && offSessionOnly()) {
        return declineAuthentication(authentication.details?.[0] as AuthenticationRequiredDetails);
      }
      if (authentication) {
        const paid = await authenticate(authentication.details?.[0] as AuthenticationRequiredDetails);
        compensations.remove('cancel PaymentIntent'); // succeeded (the refund covers it) or settled
        return paid;
      }
      throw error;
    }
  }

  /**
   * An auto top-up that needs 3-D Secure: nobody is there to authenticate, so the PaymentIntent is
   * canceled at once and the purchase fails `authentication_required` (which pauses the auto top-up).
   * True if it had succeeded after all (the cancel finds it so): then it is credited as charged.
   */
  async function declineAuthentication({ paymentIntentId }: AuthenticationRequiredDetails): Promise<boolean> {
    state.paymentIntentId = paymentIntentId;
    const { status } = await stripe.cancelPaymentIntent.executeWithOptions(
      { summary: 'cancel the payment (an auto top-up cannot do 3-D Secure)' },
      [{ purchaseId: input.purchaseId, paymentIntentId }],
    );
    if (status === 'succeeded') return true;
    compensations.remove('refund'); // canceled: no money was taken
    await fail('failed', {
      code: 'authentication_required',
      message:
        'The bank asked for 3-D Secure, which an auto top-up cannot do off-session: the payment was canceled and nothing was charged.',
    });
    return false;
  }

  /**
   * 3-D Secure: the PaymentIntent waits for the customer to confirm on-session with the client secret
   * the portal receives; the outcome arrives as a hint (webhook), is re-read from Stripe, and the wait
   * is bounded by authenticationWaitTimeoutMs. True once the PaymentIntent has succeeded.
   */
  async function authenticate({
    paymentIntentId,
    clientSecret,
  }: AuthenticationRequiredDetails): Promise<boolean> {
    state.paymentIntentId = paymentIntentId;
    // While the customer may still confirm it, an open PaymentIntent must not outlive a purchase that
    // fails another way (a step failing for good): cancel it then. If it succeeded meanwhile, the refund
    // (registered before the charge, so run after this) returns the money. Behind patched(): purchases
    // that reached this step before it replay without the extra undo.
    if (sinceOneMarker('cancel-open-payment-on-failure')) {
      compensations.add('cancel PaymentIntent', async () => {
        await compensation.cancelPaymentIntent.executeWithOptions({ summary: 'cancel the open payment' }, [
          { purchaseId: input.purchaseId, paymentIntentId },
        ]);
      });
    }
    await transition('requires_action', { nextAction: { type: 'authenticate', clientSecret } });
    const cancelPaymentIntent = async () => {
      const { status } = await stripe.cancelPaymentIntent.executeWithOptions(
        { summary: 'cancel the payment' },
        [{ purchaseId: input.purchaseId, paymentIntentId }],
      );
      compensations.remove('cancel PaymentIntent');
      // Canceled: no money was taken. Succeeded: the customer authenticated at the last moment.
      if (status !== 'succeeded') compensations.remove('refund');
      return status === 'succeeded';
    };

    const deadline = Date.now() + input.authenticationWaitTimeoutMs;
    for (let rechecks = 0; ; ) {
      const recheckMs = recheckIntervalMs(rechecks);
      const woken = await condition(
        () => paymentOutcomeHint !== null || state.cancelRequested,
        nextWake(deadline, recheckMs),
      );
      if (state.cancelRequested) {
        if (await cancelPaymentIntent()) return true; // charged after all: step 4 refunds it
        await fail('canceled', canceledFailure());
        return false;
      }
      if (!woken && !deadlinePassed(deadline, recheckMs)) {
        // Time to re-read Stripe in case the outcome's messages were lost. Only a success is acted on
        // here: a failed on-session attempt looks like the off-session failure that led to this step,
        // so failures are left to their webhook, the portal, or the timeout.
        // Best effort: a failed re-read means "not yet", never a failed purchase with its payment open.
        rechecks++;
        const reread = await bestEffort(
          stripeRecheck.getPaymentIntentStatus.executeWithOptions(
            { summary: 're-read the payment (no message yet)' },
            [{ paymentIntentId }],
          ),
        );
        if (reread?.status === 'succeeded') return true;
        continue;
      }
      if (!woken) {
        if (await cancelPaymentIntent()) return true;
        await fail('expired', {
          code: 'authentication_timeout',
          message: 'The payment was not authenticated in time, so the purchase expired. Nothing was charged.',
        });
        return false;
      }
      const hint = paymentOutcomeHint as PaymentOutcome | null;
      paymentOutcomeHint = null;
      if (hint?.outcome === 'succeeded') {
        const { status } = await stripe.getPaymentIntentStatus.executeWithOptions(
          { summary: 'read the payment outcome' },
          [{ paymentIntentId }],
        );
        if (status === 'succeeded') return true;
        continue; // not (yet) true in Stripe: keep waiting
      }
      // A failure hint is re-read too: the off-session `authentication_required` failure that caused
      // this step, or an on-session attempt still under way, is not the customer's outcome.
      // Behind patched(): purchases that started before this check replay their original path.
      if (sinceOneMarker('reread-failed-payment-outcome')) {
        const { status, lastPaymentErrorCode } = await stripe.getPaymentIntentStatus.executeWithOptions(
          { summary: 'read the payment outcome' },
          [{ paymentIntentId }],
        );
        if (status === 'succeeded') return true;
        if (status === 'requires_action' || status === 'processing') continue;
        if (lastPaymentErrorCode === 'authentication_required') continue;
      }
      if (await cancelPaymentIntent()) return true;
      await fail('failed', {
        code: 'authentication_failed',
        message: 'The card could not be authenticated (3-D Secure failed). Nothing was charged.',
      });
      return false;
    }
  }

  // Runs in a non-cancellable scope: cancellation is the flag above, never an interruption mid-step.
  // Every wait in it is bounded (card and 3-D Secure timeouts, activity schedule-to-close), so the
  // purchase still always ends.
  await CancellationScope.nonCancellable(async () => {
    try {
      await run();
    } catch (error) {
      if (!(error instanceof ActivityFailure) || settling || isTerminalPurchaseStatus(state.status))
        throw error;
      // A step failed for good (a rejected Stripe request, an exhausted retry window): undo and settle.
      log.error('purchase step failed', { error: error.cause?.message ?? error.message });
      await fail('failed', {
        code: 'payment_failed',
        message: 'The purchase could not be completed. Nothing was charged, or the charge was refunded.',
      });
    }
    // Let a cancel update in flight return the settled state before the workflow closes.
    await condition(allHandlersFinished);
  });
  // The purchase ends with its own terminal state (canceled, refunded…), even after an operator's
  // cancellation request: that request was honoured above, not by failing the workflow.
  return { ...state };
}

/**
 * A local activity's failure reaches the workflow as its cause alone (the ApplicationFailure it threw,
 * a TimeoutFailure), where a regular activity's comes wrapped in an ActivityFailure. Wrapped the same
 * way here, so a step moved to a local activity is handled by the same code as before: its typed
 * failures, and the outer catch that settles a purchase whose step failed for good.
 */
async function asActivityFailure<T>(activityType: string, activity: Promise<T>): Promise<T> {
  try {
    return await activity;
  } catch (error) {
    if (error instanceof ActivityFailure || !(error instanceof TemporalFailure)) throw error;
    throw new ActivityFailure(
      error.message,
      activityType,
      undefined,
      RetryState.RETRY_STATE_UNSPECIFIED, // not told: the cause says what happened
      undefined,
      error,
    );
  }
}

/** A best-effort activity (a periodic re-read): its failure means "no answer yet", null. */
async function bestEffort<T>(activity: Promise<T>): Promise<T | null> {
  try {
    return await activity;
  } catch (error) {
    if (error instanceof ActivityFailure) return null;
    throw error;
  }
}

/** The activity's typed failure of the given type, if that is what `error` is. */
function typedFailure(error: unknown, type: FailureType): ApplicationFailure | undefined {
  const cause = error instanceof ActivityFailure ? error.cause : undefined;
  return cause instanceof ApplicationFailure && cause.type === type ? cause : undefined;
}

function declinedFailure(declined: CardDeclinedDetails): PurchaseFailure {
  return { code: 'card_declined', message: declined.message, declineCode: declined.declineCode };
}

/** Milliseconds left until a deadline in workflow time (at least 1 ms: a zero timeout means "none"). */
function remaining(deadlineMs: number): number {
  return Math.max(1, deadlineMs - Date.now());
}

/** How long a wait may sleep: until its deadline, or until the next re-read of Stripe if sooner. */
function nextWake(deadlineMs: number, recheckMs: number | null): number {
  return recheckMs === null ? remaining(deadlineMs) : Math.min(remaining(deadlineMs), recheckMs);
}

/**
 * After a wait ended without a message: was it the deadline? Without re-reads the wait only ever
 * ended at the deadline, so that path is unchanged for purchases started before re-reads existed.
 */
function deadlinePassed(deadlineMs: number, recheckMs: number | null): boolean {
  return recheckMs === null || Date.now() >= deadlineMs;
}
