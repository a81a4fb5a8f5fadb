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

  // certificateInfo reads only the first PEM block, so most of these texts describe fine: then the
  // description is what must leak nothing, else the message.
  it.each(failureCases())('certificateInfo: $name', ({ certificate, key, info }) => {
    const result = certificateInfo(certificate);
    if ('subject' in info) {
      if (!result.ok)
        throw new Error(`expected a description, got ${result.error.code}: ${result.error.message}`);
      expect(result.value.subject).toBe(info.subject);
      expectNothingLeaks(JSON.stringify(result.value), certificate, key);
    } else {
      if (result.ok) throw new Error(`expected a failure, got a description of ${result.value.subject}`);
      expect(result.error.code).toBe('InvalidCertificate');
      expect(result.error.message).toMatch(info.failure);
      expectNothingLeaks(result.error.message, certificate, key);
    }
  });
});
