// Error messages reach conditions, Events and logs: they must never carry key material or PEM text.

import { describe, expect, it } from 'vitest';
import { certificateInfo, parseCredentialPems } from '../../../src/pki/index.ts';
import { failureCases } from './failure-cases.ts';

/**
 * Every line of the inputs. Lines shorter than 8 characters are left out: the last base64 line of
 * a block can be as short as 4 characters, which could occur in English text by chance.
 */
function inputLines(...texts: string[]): string[] {
  return texts
    .flatMap((text) => text.split(/\r?\n|\r/))
    .map((line) => line.trim())
    .filter((line) => line.length >= 8);
}

function expectNothingLeaks(message: string, ...inputs: string[]): void {
  expect(message).not.toContain('PRIVATE KEY');
  expect(message).not.toMatch(/[A-Za-z0-9+/]{40,}/);
  for (const line of inputLines(...inputs)) expect(message).not.toContain(line);
}

describe('error messages leak nothing', () => {
  it.each(failureCases())('$code: $name', ({ certificate, key, now }) => {
    const result = parseCredentialPems({ certificate, key, now });
    if (result.ok) throw new Error('expected a failure');
    expect(result.error.message.length).toBeGreaterThan(20);
    expectNothingLeaks(result.error.message, certificate, key);
  });

  it.each(failureCases())('certificateInfo: $name', ({ certificate }) => {
    const result = certificateInfo(certificate);
    if (!result.ok) expectNothingLeaks(result.error.message, certificate);
  });
});
