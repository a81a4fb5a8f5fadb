import { describe, expect, it } from 'vitest';
import { parseGoDuration } from '../../../src/certificate/duration.ts';
import { renewalTime } from '../../../src/certificate/renewal.ts';

const t = (iso: string) => new Date(iso);

describe('parseGoDuration', () => {
  it.each([
    ['90s', 90_000],
    ['1h30m', 5_400_000],
    ['720h', 2_592_000_000],
    ['1.5s', 1500],
    ['250ms', 250],
    ['0', 0],
  ])('%s is %d ms', (text, ms) => expect(parseGoDuration(text)).toBe(ms));

  it.each(['', '5', '1d', 'h', '1h 30m', '-1s', '1s2', 'abc'])('%j is not a duration', (text) =>
    expect(parseGoDuration(text)).toBeUndefined(),
  );
});

describe('renewalTime', () => {
  const notBefore = t('2026-01-01T00:00:00Z');
  const notAfter = t('2026-01-04T00:00:00Z'); // 72h

  it.each([
    ['default: at 2/3 of the lifetime', {}, '2026-01-03T00:00:00Z'],
    ['renewBefore', { renewBefore: '12h' }, '2026-01-03T12:00:00Z'],
    [
      'renewBefore longer than the lifetime falls back to 2/3',
      { renewBefore: '100h' },
      '2026-01-03T00:00:00Z',
    ],
    ['renewBefore equal to the lifetime falls back to 2/3', { renewBefore: '72h' }, '2026-01-03T00:00:00Z'],
    ['renewBeforePercentage', { renewBeforePercentage: 25 }, '2026-01-03T06:00:00Z'],
  ])('%s', (_name, policy, expected) => {
    expect(renewalTime(notBefore, notAfter, policy).toISOString()).toBe(t(expected).toISOString());
  });

  it('truncates to whole seconds', () => {
    const at = renewalTime(t('2026-01-01T00:00:00Z'), t('2026-01-01T00:00:10Z'), {});
    expect(at.toISOString()).toBe('2026-01-01T00:00:06.000Z'); // 6.666 s -> 6 s
  });

  it('works for lifetimes of seconds, as the simulator issues them', () => {
    const at = renewalTime(t('2026-01-01T00:00:00Z'), t('2026-01-01T00:01:30Z'), {});
    expect(at.toISOString()).toBe('2026-01-01T00:01:00.000Z');
  });
});
