// The list of keys a template may not set is the list of keys the operator writes: a key added to
// the Secret layout without the list would let a template override it again.
import { describe, expect, it } from 'vitest';
import { OPERATOR_DATA_KEYS, reservedTemplateKey } from '../../../src/api/secret-template.ts';
import { BINDING_FIELD_KEYS, KEYSTORE_KEY, secretData } from '../../../src/certificate/secret.ts';

describe('the keys a secretTemplate may not set', () => {
  it('are every key the operator writes', () => {
    const fields = Object.fromEntries(BINDING_FIELD_KEYS.map((k) => [k, 'v']));
    const data = secretData({
      chainPem: 'c',
      caPem: 'ca',
      keyPem: 'k',
      combinedPem: 'ck',
      fields,
      templateData: {},
    });
    expect(new Set(OPERATOR_DATA_KEYS)).toEqual(new Set([...Object.keys(data), KEYSTORE_KEY]));
  });

  it('name the first reserved key, data first', () => {
    expect(reservedTemplateKey({ data: { tokenurl: 'x' }, labels: { team: 'a' } })).toBeUndefined();
    expect(reservedTemplateKey(undefined)).toBeUndefined();
    expect(
      reservedTemplateKey({
        labels: { 'replicator.v1.mittwald.de/replicate-to': 'x' },
        data: { provider: 'x' },
      }),
    ).toBe('secretTemplate.data: provider');
    expect(reservedTemplateKey({ labels: { 'btpcerts.io/managed': 'x' } })).toBe(
      'secretTemplate.labels: btpcerts.io/managed',
    );
  });
});
