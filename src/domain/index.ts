export * from './catalog';
export * from './eligibility';
export * from './errors';
export * from './purchase-states';
