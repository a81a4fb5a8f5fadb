// spec.secretTemplate.data: {{field}} substitution from binding fields. No expressions, no code.
import type { CredentialFields } from '../sources/credentials.ts';

const PLACEHOLDER = /\{\{ *([A-Za-z0-9_.-]+) *\}\}/g;

export type Rendered =
  | { readonly ok: true; readonly data: Readonly<Record<string, string>> }
  | { readonly ok: false; readonly message: string };

/** Renders every template; a field the credentials lack fails the whole template, naming it. */
export function renderTemplateData(
  templates: Readonly<Record<string, string>>,
  fields: CredentialFields,
): Rendered {
  const data: Record<string, string> = {};
  const missing = new Set<string>();
  for (const [key, template] of Object.entries(templates)) {
    data[key] = template.replace(PLACEHOLDER, (_whole, name: string) => {
      const value = Object.hasOwn(fields, name) ? fields[name] : undefined;
      if (value === undefined) missing.add(`${key}: {{${name}}}`);
      return value ?? '';
    });
  }
  if (missing.size > 0) {
    return {
      ok: false,
      message:
        `secretTemplate.data names fields the credentials do not have (${[...missing].join('; ')}); ` +
        `available: ${Object.keys(fields).sort().join(', ')}`,
    };
  }
  return { ok: true, data };
}
