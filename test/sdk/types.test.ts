import { describe, expectTypeOf, it } from 'vitest';
import type {
  AdminPurchase,
  CreditPack,
  CreditPackCreateParams,
  CreditPacks,
  Envelope,
  ErrorCode,
  PortalClient,
  PortalCreditPack,
  Purchase,
  PurchaseCreateParams,
  Refund,
  RefundCreateParams,
  Success,
} from '../../packages/sdk/src/index';

/**
 * The hand-written signatures stand on the generated types (none of them collapsed to never or any);
 * checked by `tsc --noEmit` in npm test, and run (trivially) by vitest.
 */
describe('SDK types', () => {
  it('shapes come from the OpenAPI document', () => {
    expectTypeOf<PortalCreditPack>().toEqualTypeOf<{
      id: string;
      name: string;
      description: string | null;
      credits: number;
      price: number;
      currency: 'usd';
    }>();
    expectTypeOf<CreditPack['visibility']>().toMatchTypeOf<{ type: 'all_credits_plans' | 'plans' }>();
    expectTypeOf<CreditPackCreateParams>().toMatchTypeOf<{ name: string; credits: number; price: number }>();
    expectTypeOf<PurchaseCreateParams>().toEqualTypeOf<{ creditPackId: string; quantity?: number }>();
    expectTypeOf<AdminPurchase>().toMatchTypeOf<Purchase & { customerId: string }>();
    expectTypeOf<Purchase['status']>().toMatchTypeOf<string>();
    expectTypeOf<'purchase_not_found'>().toMatchTypeOf<ErrorCode>();
    expectTypeOf<RefundCreateParams>().toEqualTypeOf<{
      amount?: number;
      reason?: 'requested_by_customer' | 'duplicate' | 'fraudulent' | null;
    }>();
    expectTypeOf<Refund>().toEqualTypeOf<{
      id: string;
      purchaseId: string;
      amount: number;
      creditsReversed: number;
      reason: 'requested_by_customer' | 'duplicate' | 'fraudulent' | null;
      status: 'pending' | 'succeeded' | 'failed';
      createdAt: string;
    }>();
    expectTypeOf<AdminPurchase>().toMatchTypeOf<{
      trigger: string;
      refundedAmount: number;
      creditsReversed: number;
      dispute: unknown;
    }>();
  });

  it('throwOnError narrows what methods resolve to', () => {
    type Lists<C> = C extends { creditPacks: { list: (...args: never[]) => Promise<infer R> } } ? R : never;
    expectTypeOf<Lists<CreditPacks>>().toEqualTypeOf<Envelope<CreditPack[]>>();
    expectTypeOf<Lists<CreditPacks<true>>>().toEqualTypeOf<Success<CreditPack[]>>();
    expectTypeOf<Lists<PortalClient<true>>>().toEqualTypeOf<Success<PortalCreditPack[]>>();
    type Refunds<C> = C extends { purchases: { refunds: { create: (...args: never[]) => Promise<infer R> } } }
      ? R
      : never;
    expectTypeOf<Refunds<CreditPacks>>().toEqualTypeOf<Envelope<Refund>>();
    expectTypeOf<Refunds<CreditPacks<true>>>().toEqualTypeOf<Success<Refund>>();
  });
});
