// `node --import tsx --import ./test/support/fake-threshold-register.mjs ...`: registers the hook after
// tsx's, so that it runs first and sees the rule module as tsx compiled it.
import { register } from 'node:module';

register('./fake-threshold-hook.mjs', import.meta.url);
