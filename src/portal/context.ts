import type { Client } from '@temporalio/client';
import type { FastifyRequest } from 'fastify';
import type Stripe from 'stripe';
import type { PortalSessionClaims } from '../auth/portal-tokens';
import type { Config } from '../config';
import type { Sql } from '../db/client';
import { AppError } from '../domain/errors';
import type { PurchaseChanges } from '../purchases';

/** What route plugins receive. */
export interface RouteDeps {
  config: Config;
  sql: Sql;
  /** Stripe SDK: webhook signature checks, and the test-mode card/3-D Secure routes (emulator only). */
  stripe: Stripe;
  /** Temporal client: checkout, cancel, webhook signals. Null: those routes answer 503. */
  temporal: Client | null;
  /** How long checkout waits for the purchase to need something or settle before answering (ms). */
  checkoutWaitMs: number;
  /** Wakes the checkout's and cancel's waits when a purchase's status changes (one LISTEN connection). */
  purchaseChanges: PurchaseChanges;
  /** Stripe.js publishable key for the portal page with real Stripe (null in test mode). */
  stripePublishableKey: string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** set by the admin auth hook: the organization of the API key */
    organizationId: string | null;
    /** set by the portal auth hook */
    portalSession: PortalSessionClaims | null;
  }
}

export function orgOf(request: FastifyRequest): string {
  if (!request.organizationId) throw new AppError('unauthorized', 'Not authenticated.');
  return request.organizationId;
}

export function sessionOf(request: FastifyRequest): PortalSessionClaims {
  if (!request.portalSession) throw new AppError('unauthorized', 'Not authenticated.');
  return request.portalSession;
}

export const envelope = <T>(data: T) => ({ success: true as const, data });

/**
 * The request's Idempotency-Key, required by checkout, refunds and usage: 400
 * idempotency_key_missing without one (its length, 1 to 255, is checked by the route's header schema).
 */
export function requiredIdempotencyKey(request: FastifyRequest): string {
  const key = request.headers['idempotency-key'];
  if (typeof key !== 'string' || key.trim() === '') {
    throw new AppError(
      'idempotency_key_missing',
      'The Idempotency-Key header is required (1 to 255 characters).',
    );
  }
  return key;
}
