/** The null purchase's four steps: each returns at once (no I/O). */
export const nullActivities = {
  async nullEligibility(purchaseId: string): Promise<string> {
    return purchaseId;
  },
  async nullCardOnFile(purchaseId: string): Promise<string> {
    return purchaseId;
  },
  async nullCharge(purchaseId: string): Promise<string> {
    return purchaseId;
  },
  async nullGrant(purchaseId: string): Promise<string> {
    return purchaseId;
  },
};

export const NULL_TASK_QUEUE = 'bench-null-purchases';

export type NullActivities = typeof nullActivities;
