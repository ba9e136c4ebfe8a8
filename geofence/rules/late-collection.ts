import { collectionRule } from './collection-visits.ts';

/**
 * LATE_COLLECTION (迟收): a collection point first visited after its window closed, within
 * collectionLateGraceMs. The judgement is rules/collection-visits.ts.
 */
export { thresholds } from './collection-visits.ts';

export const lateCollection = collectionRule('LATE_COLLECTION');
