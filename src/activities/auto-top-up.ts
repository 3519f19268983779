import { log } from '@temporalio/activity';
import { readAutoTopUpForMirror, recordAutoTopUpMirrored } from '../db/auto-top-up';
import type { Sql } from '../db/client';
import type { PurchaseRow } from '../db/purchases';
import type { AutoTopUpPausedReason, AutoTopUpState } from '../domain/auto-top-up';

/**
 * Starts a recorded purchase's workflow once (same workflow id as the checkout and the sweep use). The
 * worker injects it (src/purchases/auto-top-up.ts): activities start no workflow themselves, they are
 * handed the one way purchases are started.
 */
export type StartPurchase = (purchase: PurchaseRow) => Promise<{ started: boolean }>;

export interface AutoTopUpMirrorResult {
  state: AutoTopUpState;
  pausedReason: AutoTopUpPausedReason | null;
  version: number;
  startedPurchaseId: string | null;
}

/** The auto top-up workflow's activity (src/workflows/auto-top-up). */
export function createAutoTopUpActivities({
  sql,
  startPurchase,
}: {
  sql: Sql;
  startPurchase?: StartPurchase | undefined;
}) {
  return {
    /**
     * Reads the customer's auto top-up (decided in Postgres), starts the owed top-up purchase if one is
     * recorded and pending (idempotent: start-once), then records the version read as mirrored and
     * returns the state for the workflow's search attributes. A failure to start is thrown, so the
     * activity is retried (and the version stays unmirrored for the sweep meanwhile).
     */
    async mirrorAutoTopUp(ids: {
      organizationId: string;
      customerId: string;
    }): Promise<AutoTopUpMirrorResult> {
      const read = await readAutoTopUpForMirror(sql, ids, new Date());
      if (!read) return { state: 'off', pausedReason: null, version: 0, startedPurchaseId: null };
      let startedPurchaseId: string | null = null;
      if (read.owed) {
        if (!startPurchase) throw new Error('this worker was built without a way to start purchases');
        const { started } = await startPurchase(read.owed);
        if (started) startedPurchaseId = read.owed.id;
        log.info('owed auto top-up started', { purchaseId: read.owed.id, started });
      }
      await recordAutoTopUpMirrored(sql, ids, read.version);
      return {
        state: read.autoTopUp.state,
        pausedReason: read.autoTopUp.pausedReason,
        version: read.version,
        startedPurchaseId,
      };
    },
  };
}
