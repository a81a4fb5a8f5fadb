// `kubectl btpcert status`: the view taken from an object and its Events, and its text, at a fixed
// time.
import { describe, expect, it } from 'vitest';
import type { EventView } from '../../../src/cli/client.ts';
import { formatStatus, MAX_EVENTS, statusView } from '../../../src/cli/status.ts';
import { terminalControls } from '../../support/terminal.ts';
import { certificate, smCertificate } from '../certificate/policies/fixtures.ts';

const NOW = new Date('2026-11-29T12:00:00Z');
const condition = (
  type: string,
  status: string,
  reason: string,
  message: string,
  at = '2026-11-29T11:57:00Z',
) => ({
  type,
  status: status as 'True' | 'False' | 'Unknown',
  reason,
  message,
  lastTransitionTime: at,
  observedGeneration: 3,
});
const event = (reason: string, at: string, count = 1, type = 'Normal'): EventView => ({
  type,
  reason,
  message: `${reason} happened`,
  count,
  firstTimestamp: at,
  lastTimestamp: at,
});

const rotating = smCertificate(
  {
    observedGeneration: 3,
    source: 'ServiceManager/i',
    sourceRevision: 'b2@r2',
    conditions: [
      condition('Stalled', 'False', 'Progressing', 'not stalled'),
      condition('Renewal', 'False', 'ServiceManagerError', 'renewal failed: 503; retried with backoff'),
      condition('Ready', 'True', 'Issued', 'Secret tls holds valid credentials'),
      condition(
        'TokenReady',
        'True',
        'TokenIssued',
        'a token was fetched over mTLS from https://t/oauth/token',
      ),
    ],
    subject: 'CN=leaf, O=SAP SE',
    issuer: 'CN=CA, O=SAP SE',
    serialNumber: '0A',
    notBefore: '2026-11-29T00:00:00Z',
    notAfter: '2026-12-01T12:00:00Z',
    renewalTime: '2026-11-30T16:00:00Z',
    sha256Fingerprint: 'AB:CD',
    binding: { id: 'b2', name: 'btpcert-uid-1-r2', revision: 2 },
    retiredBindings: [
      { id: 'b1', name: 'btpcert-uid-1-r1', revision: 1, deleteAfter: '2026-11-29T13:00:00Z' },
    ],
    failedAttempts: 2,
    lastFailureTime: '2026-11-29T11:59:00Z',
    nextRetryTime: '2026-11-29T12:00:30Z',
    lastRenewRequest: 'r1',
    token: {
      lastCheckTime: '2026-11-29T11:50:00Z',
      lastSuccessTime: '2026-11-29T11:50:00Z',
      expiresAt: '2026-11-29T23:50:00Z',
      nextCheckTime: '2026-11-29T12:50:00Z',
      endpoint: 'https://t/oauth/token',
      failedChecks: 0,
      lastCheckRequest: 'c1',
    },
  },
  { 'btpcerts.io/renew-requested-at': 'r2', 'btpcerts.io/check-token-requested-at': 'c1' },
);

describe('status', () => {
  it('shows every part an admin needs, in that order, with times relative to now', () => {
    const text = formatStatus(
      statusView(rotating, [
        event('Issued', '2026-11-28T12:00:00Z'),
        event('Rotated', '2026-11-29T11:58:00Z', 3),
      ]),
      NOW,
    );
    expect(text).toBe(
      [
        'Name:        c',
        'Namespace:   ns',
        'Secret:      tls',
        'Source:      ServiceManager/i (revision b2@r2)',
        'Generation:  3 (observed)',
        '',
        'Conditions:',
        '  TYPE         STATUS   REASON                SINCE   MESSAGE',
        '  Ready        True     Issued                3m      Secret tls holds valid credentials',
        '  TokenReady   True     TokenIssued           3m      a token was fetched over mTLS from https://t/oauth/token',
        '  Renewal      False    ServiceManagerError   3m      renewal failed: 503; retried with backoff',
        '  Stalled      False    Progressing           3m      not stalled',
        '',
        'Certificate:',
        '  Subject:     CN=leaf, O=SAP SE',
        '  Issuer:      CN=CA, O=SAP SE',
        '  Serial:      0A',
        '  Not before:  2026-11-29T00:00:00Z (12h ago)',
        '  Not after:   2026-12-01T12:00:00Z (in 2d)',
        '  Renewal:     2026-11-30T16:00:00Z (in 1d4h)',
        '  SHA-256:     AB:CD',
        '',
        'Renewal:',
        '  Requested:        r2 (not handled yet)',
        '  Failed attempts:  2',
        '  Last failure:     2026-11-29T11:59:00Z (1m ago)',
        '  Next retry:       2026-11-29T12:00:30Z (in 30s)',
        '',
        'Bindings:',
        '            NAME               REVISION   ID   DELETE AFTER',
        '  current   btpcert-uid-1-r2   2          b2   -',
        '  retired   btpcert-uid-1-r1   1          b1   2026-11-29T13:00:00Z (in 1h)',
        '',
        'Token check:',
        '  Last check:     2026-11-29T11:50:00Z (10m ago)',
        '  Last success:   2026-11-29T11:50:00Z (10m ago)',
        '  Token expires:  2026-11-29T23:50:00Z (in 11h50m)',
        '  Next check:     2026-11-29T12:50:00Z (in 50m)',
        '  Endpoint:       https://t/oauth/token',
        '  Requested:      c1 (handled)',
        '',
        'Events:',
        '  TYPE     REASON    AGE   COUNT   MESSAGE',
        '  Normal   Issued    1d    1       Issued happened',
        '  Normal   Rotated   2m    3       Rotated happened',
        '',
      ].join('\n'),
    );
  });

  it('says what is not there yet, and when the status is of an older generation', () => {
    const fresh = certificate({}, { observedGeneration: 2 });
    const text = formatStatus(statusView(fresh, []), NOW);
    expect(text).toContain('Source:      Secret/src\n');
    expect(text).toContain(
      'Generation:  3 (status is of generation 2: the operator has not seen the latest spec yet)\n',
    );
    expect(text).toContain('Conditions:\n  <none>: the operator has not reported on it yet\n');
    expect(text).toContain('Certificate:\n  <none>: no credentials were written yet\n');
    expect(text).toContain('Token check:\n  not checked yet\n');
    expect(text).toContain('Events:\n  <none>\n');
    expect(text).not.toContain('Bindings:');
    expect(text).not.toContain('Renewal:');
    const off = formatStatus(statusView(certificate({ token: { check: false } }), []), NOW);
    expect(off).toContain('Token check:\n  off (spec.token.check: false)\n');
  });

  it('still shows the object when its Events cannot be read, and says why', () => {
    const view = statusView(certificate(), [], 'Error from server (Forbidden): events is forbidden');
    expect(view.eventsError).toBe('Error from server (Forbidden): events is forbidden');
    expect(formatStatus(view, NOW)).toContain(
      'Events:\n  <not shown: Error from server (Forbidden): events is forbidden>\n',
    );
  });

  it('shows the most recent Events and counts the older ones', () => {
    const many = Array.from({ length: MAX_EVENTS + 5 }, (_, i) =>
      event(`E${i}`, new Date(NOW.getTime() - (MAX_EVENTS + 5 - i) * 60_000).toISOString()),
    );
    const view = statusView(certificate(), many);
    expect(view.events).toHaveLength(MAX_EVENTS);
    expect(view.events[0]?.reason).toBe('E5');
    expect(view.olderEvents).toBe(5);
    expect(formatStatus(view, NOW)).toContain('Events:\n  (5 older not shown)\n');
  });

  it('names the source from the spec while status has none', () => {
    const named = (source: object) => statusView(certificate({ source } as never), []).source;
    expect(named({ serviceBinding: { name: 'sb' } })).toBe('ServiceBinding/sb');
    expect(named({ secret: { name: 's', key: 'k.json' } })).toBe('Secret/s (key k.json)');
    expect(named({ serviceManager: { serviceInstanceID: 'id-1' } })).toBe('ServiceManager/id-1');
    expect(named({ destination: { destinationName: 'dest' } })).toBe('Destination/dest');
    expect(named({ destination: { certificateName: 'client.p12' } })).toBe(
      'Destination/certificate client.p12',
    );
  });
});

describe('status of an object a namespace user wrote', () => {
  it('prints no terminal control characters, whatever its annotations, messages and Events hold', () => {
    const hostile = '\u001b]0;owned\u0007\r\u001b[2Kfine\u009b2J\u202e';
    const cert = smCertificate(
      {
        conditions: [condition('Ready', 'False', 'InvalidCredentials', `bad ${hostile}\nsecond line`)],
        subject: `CN=${hostile}`,
        token: { endpoint: `https://x/${hostile}` },
      },
      { 'btpcerts.io/renew-requested-at': hostile, 'btpcerts.io/check-token-requested-at': hostile },
    );
    const text = formatStatus(
      statusView(cert, [{ ...event('Odd', '2026-11-29T11:00:00Z'), message: hostile }]),
      NOW,
    );
    // Every line break is the layout's own; nothing a terminal acts on is left.
    expect(terminalControls(text)).toEqual([]);
    expect(text).toContain('bad \\u001b]0;owned\\u0007\\r\\u001b[2Kfine\\u009b2J\\u202e\\nsecond line');
    expect(text).toContain('  Requested:  \\u001b]0;owned');
  });
});
