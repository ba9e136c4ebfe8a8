import { collectionRule } from './collection-visits.ts';

/**
 * MISSED_COLLECTION (漏收): a collection point's window closed (plus collectionLateGraceMs) without a
 * visit by its vehicle. The judgement is rules/collection-visits.ts.
 */
export { thresholds } from './collection-visits.ts';

export const missedCollection = collectionRule('MISSED_COLLECTION');
