// Tenant input is measured before it is read (issue 10): a source field over 64 KiB and a URL over
// 2 KiB are refused with InputTooLarge, naming the field and the limit and never the content; the
// trailing-slash trim is one backward scan. The worst-case inputs are the ones that held the
// operator at 100 % CPU (300 KB and more of slashes took 30 s and more in /\/+$/).
import { describe, expect, it } from 'vitest';
import { trimTrailingSlashes } from '../../../src/runtime/text.ts';
import {
  MAX_FIELD_BYTES,
  MAX_URL_LENGTH,
  oversizedField,
  selectX509,
} from '../../../src/sources/credentials.ts';
import { fieldsFromSecret } from '../../../src/sources/secret-source.ts';
import { fieldsFromBindingSecret, viewServiceBinding } from '../../../src/sources/service-binding.ts';
import { smAccessFromSecret } from '../../../src/sources/service-manager-access.ts';

/** Credentials in the shape of a binding, short; only the field under test is large. */
const creds = { clientid: 'sb-1', certificate: 'CERT-PEM', key: 'KEY-PEM', certurl: 'https://c.example' };

/** A run of slashes after a non-slash: the input /\/+$/ retries from every slash of. */
const slashes = (count: number) => `https://sub.authentication.cert.example${'/'.repeat(count)}x`;

describe('trimTrailingSlashes', () => {
  it.each([
    ['', ''],
    ['/', ''],
    ['https://a', 'https://a'],
    ['https://a/', 'https://a'],
    ['https://a///', 'https://a'],
    ['https://a/b/', 'https://a/b'],
  ])('%j -> %j', (text, trimmed) => {
    expect(trimTrailingSlashes(text)).toBe(trimmed);
  });

  it('leaves 1 MB of slashes followed by a character as it is (minutes in /\\/+$/)', () => {
    const text = slashes(1_000_000);
    expect(trimTrailingSlashes(text)).toBe(text);
  });

  it('removes 1 MB of trailing slashes', () => {
    expect(trimTrailingSlashes(`https://a${'/'.repeat(1_000_000)}`)).toBe('https://a');
  });
});

describe('source fields over 64 KiB', () => {
  const big = 'x'.repeat(MAX_FIELD_BYTES + 1);

  it('a Secret source: the field is named with its size, not shown', () => {
    const fields = fieldsFromSecret({ ...creds, certurl: slashes(300_000) }, 'src', undefined);
    if (!fields.ok) throw new Error('fields without a key are taken as they are');
    const result = selectX509(fields.fields, 'Secret src');
    expect(result).toEqual({
      ok: false,
      reason: 'InputTooLarge',
      message: `Secret src: field certurl is ${slashes(300_000).length} bytes; at most 64 KiB are accepted per field`,
    });
  });

  it('takes a field of exactly 64 KiB, measured in UTF-8', () => {
    const exact = 'x'.repeat(MAX_FIELD_BYTES);
    expect(selectX509({ ...creds, xsappname: exact }, 'Secret src').ok).toBe(true);
    // 'é' is two bytes in UTF-8: half as many characters reach the cap.
    const wide = 'é'.repeat(MAX_FIELD_BYTES / 2 + 1);
    expect(oversizedField({ xsappname: wide }, 'Secret src')?.reason).toBe('InputTooLarge');
  });

  it('a JSON document under source.secret.key is measured before it is parsed', () => {
    const document = JSON.stringify({ ...creds, padding: big });
    expect(fieldsFromSecret({ credentials: document }, 'src', 'credentials')).toEqual({
      ok: false,
      reason: 'InputTooLarge',
      message: `Secret src: field credentials is ${document.length} bytes; at most 64 KiB are accepted per field`,
    });
  });

  it('a ServiceBinding Secret: the field is refused before the certificate is looked at', () => {
    const sb = viewServiceBinding({ metadata: { name: 'sb' }, spec: {}, status: {} });
    if (sb === undefined) throw new Error('no view');
    const fields = fieldsFromBindingSecret(sb, { ...creds, certificate: big });
    if (!fields.ok) throw new Error(fields.message);
    expect(selectX509(fields.fields, 'Secret sb of ServiceBinding sb')).toMatchObject({
      ok: false,
      reason: 'InputTooLarge',
      message: expect.stringMatching(/^Secret sb of ServiceBinding sb: field certificate is 65537 bytes/),
    });
  });

  it('a field name that does not look like one is not echoed', () => {
    const failure = oversizedField({ [`${'k'.repeat(100)}\n`]: big }, 'Secret src');
    expect(failure?.message).toBe(
      'Secret src: field with an unusual name is 65537 bytes; at most 64 KiB are accepted per field',
    );
  });
});

describe('Service Manager access Secrets', () => {
  const access = {
    sm_url: 'https://service-manager.example/',
    clientid: 'sm-client',
    clientsecret: 'sm-secret',
    url: 'https://sub.authentication.example',
  };

  it('trims the URLs it takes', () => {
    const result = smAccessFromSecret({ ...access, url: `${access.url}//` }, 'sm');
    expect(result).toMatchObject({
      ok: true,
      access: { smUrl: 'https://service-manager.example', tokenUrl: `${access.url}/oauth/token` },
    });
  });

  it.each(['sm_url', 'url', 'tokenurl', 'certurl'])('refuses a %s over 2 KiB', (field) => {
    const long = slashes(MAX_URL_LENGTH);
    expect(smAccessFromSecret({ ...access, [field]: long }, 'sm')).toEqual({
      ok: false,
      reason: 'InputTooLarge',
      message: `Secret sm field ${field} is a URL of ${long.length} characters; at most 2048 are accepted`,
    });
  });

  it('refuses 300 KB of slashes in a URL as a field over 64 KiB', () => {
    expect(smAccessFromSecret({ ...access, url: slashes(300_000) }, 'sm')).toMatchObject({
      ok: false,
      reason: 'InputTooLarge',
      message: `Secret sm: field url is ${slashes(300_000).length} bytes; at most 64 KiB are accepted per field`,
    });
  });
});
