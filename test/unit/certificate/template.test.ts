import { describe, expect, it } from 'vitest';
import { renderTemplateData } from '../../../src/certificate/template.ts';

const fields = {
  certurl: 'https://x.authentication.cert.example',
  sm_url: 'https://sm.example',
  clientid: 'sb-1',
};

describe('renderTemplateData', () => {
  it('substitutes {{field}}, with or without spaces, several per value', () => {
    const r = renderTemplateData(
      {
        tokenurl: '{{certurl}}/oauth/token',
        sm: '{{ sm_url }}',
        both: '{{clientid}}@{{sm_url}}',
        plain: 'x',
      },
      fields,
    );
    expect(r).toEqual({
      ok: true,
      data: {
        tokenurl: 'https://x.authentication.cert.example/oauth/token',
        sm: 'https://sm.example',
        both: 'sb-1@https://sm.example',
        plain: 'x',
      },
    });
  });

  it('names every unknown field and lists the available ones, never values', () => {
    const r = renderTemplateData(
      { a: '{{nope}}', b: '{{also_nope}}' },
      { ...fields, key: 'SECRET-KEY-TEXT' },
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.message).toContain('a: {{nope}}');
    expect(r.message).toContain('b: {{also_nope}}');
    expect(r.message).toContain('available: certurl, clientid, key, sm_url');
    expect(r.message).not.toContain('SECRET-KEY-TEXT');
  });

  it('does not evaluate anything but a field name', () => {
    const r = renderTemplateData({ a: '{{constructor}}', b: '{{__proto__}}' }, fields);
    expect(r.ok).toBe(false);
  });
});
