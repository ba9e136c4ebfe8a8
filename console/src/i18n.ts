/**
 * The console's words in Simplified Chinese (the default: the command centres' language) and English,
 * one dictionary a language (console/src/i18n/zh-CN.ts, en.ts).
 * The choice is kept in localStorage. Violation codes, unit kinds and statuses come from the API as codes
 * and are named here; a code this list does not know is shown as it is.
 */

import { en } from './i18n/en.ts';
import { type Key, zh } from './i18n/zh-CN.ts';

export type { Key } from './i18n/zh-CN.ts';

export type Lang = 'zh-CN' | 'en';

// the engine's own list (a copy here had missed the sanitation and camera codes)
export { VIOLATION_CODES } from '../../core/violation-codes.ts';

const STORAGE_KEY = 'citywatch.lang';
let lang: Lang = localStorage.getItem(STORAGE_KEY) === 'en' ? 'en' : 'zh-CN';

export function currentLang(): Lang {
  return lang;
}

export function setLang(next: Lang): void {
  lang = next;
  localStorage.setItem(STORAGE_KEY, next);
  document.documentElement.lang = next;
}

/** The text of a key, with `{name}` placeholders filled. */
export function t(key: Key, vars: Record<string, string | number> = {}): string {
  const text: string = lang === 'en' ? en[key] : zh[key];
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(vars[name] ?? `{${name}}`));
}

/** A code's name (violation code, kind, status...), or the code itself when unknown. */
export function named(prefix: string, code: string | undefined): string {
  if (code === undefined) return '—';
  const key = `${prefix}.${code}` as Key;
  return key in zh ? t(key) : code;
}
