import { z } from 'zod';
import { tonnes } from './kinds.ts';

/** illegalDump's thresholds, declared once (issue 11): index.ts gathers every rule's. */
export const thresholds = z.object({
  dumpWeightDropT: tonnes(
    2,
    'ILLEGAL_DUMP: a confirmed weight drop of more than this (t) while stopped is an unloading',
  ),
});
