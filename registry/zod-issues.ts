import type { z } from 'zod';
import type { ValidationIssue } from './geometry.ts';

/**
 * zod issues as registry issues, with paths in the input's own shape (`values.nightWindows[0]`,
 * `lines[0][3]`) under an optional prefix. An unknown key is named in the path of its own issue
 * (`values.bogus: unknown threshold`) rather than on its parent, and unknown keys come first, as the
 * registry reported them before its schemas were zod's.
 */
export function zodIssues(error: z.ZodError, prefix = ''): ValidationIssue[] {
  const at = (path: readonly PropertyKey[]) =>
    path
      .map((p, k) =>
        typeof p === 'number' ? `[${p}]` : k === 0 && prefix === '' ? String(p) : `.${String(p)}`,
      )
      .reduce((acc, part) => acc + part, prefix);
  const unknown: ValidationIssue[] = [];
  const other: ValidationIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys' && prefix !== '') {
      for (const key of issue.keys) unknown.push({ path: at([...issue.path, key]), message: issue.message });
    } else {
      other.push({ path: at(issue.path), message: issue.message });
    }
  }
  return [...unknown, ...other];
}
