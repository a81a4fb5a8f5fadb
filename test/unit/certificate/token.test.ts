// The token check's decisions (certificate/token.ts) and the mapping of BTP client errors to
// TokenReady reasons (token/outcome.ts), with a fixed clock and plain values.
import { describe, expect, it } from 'vitest';
import { Reasons } from '../../../src/api/conditions.ts';
import type { BTPCertificate, BTPCertificateStatus } from '../../../src/api/types.ts';
import { BTP_ERROR_CODES, BtpError } from '../../../src/btp/errors.ts';
import { Secret } from '../../../src/btp/secret.ts';
import type { AccessToken } from '../../../src/btp/token-client.ts';
import { decide, type Plan, type TokenCheck } from '../../../src/certificate/decide.ts';
import {
  CHECK_TOKEN_ANNOTATION,
  nextCheckTime,
  type TokenCheckResult,
  tokenCheckDue,
  tokenTarget,
} from '../../../src/certificate/token.ts';
import { tokenFailure } from '../../../src/token/outcome.ts';
import { certificate, FIELDS, NOW, OK, PEMS, REVOKED } from './policies/fixtures.ts';

const HOUR = 3_600_000;

function planFor(cert: BTPCertificate, now = NOW, tokenCheck?: TokenCheck): Plan {
  return decide({
    ...(tokenCheck === undefined ? {} : { tokenCheck }),
    certificate: cert,
    source: {
      ok: true,
      description: 'Secret/src',
      revision: '1',
      credentials: { ok: true, ...PEMS, fields: { ...FIELDS, ...PEMS } },
      renewal: { kind: 'none' },
    },
    secret: undefined,
    keystorePassword: undefined,
    now,
  });
}

/** decide() with the token check run in this reconcile (what the token gate gets). */
function checked(
  cert: BTPCertificate,
  now: Date,
  check: TokenCheck | undefined,
): { plan: Plan; tokenSecret: Plan['tokenSecret'] } {
  const plan = planFor(cert, now, check);
  return { plan, tokenSecret: plan.tokenSecret };
}

const token = (expiresInSeconds = 43_199): AccessToken => ({
  accessToken: new Secret('eyJ.secret-token.sig'),
  tokenType: 'bearer',
  obtainedAt: NOW,
  expiresAt: new Date(NOW.getTime() + expiresInSeconds * 1000),
  expiresInSeconds,
  scope: undefined,
});
const condition = (plan: Plan, type: string) => plan.status.conditions?.find((c) => c.type === type);

describe('tokenTarget', () => {
  it('asks spec.token.url, else the certurl, else the plain url; appends /oauth/token once', () => {
    expect(tokenTarget(certificate(), FIELDS)).toEqual({
      ok: true,
      tokenUrl: 'https://cert.example/oauth/token',
      clientId: 'sb-1',
    });
    expect(tokenTarget(certificate({ token: { url: 'https://other.example' } }), FIELDS)).toMatchObject({
      tokenUrl: 'https://other.example/oauth/token',
    });
    const { certurl: _c, ...plain } = FIELDS;
    expect(tokenTarget(certificate(), plain)).toMatchObject({ tokenUrl: 'https://uaa.example/oauth/token' });
  });

  it('says what is missing', () => {
    expect(tokenTarget(certificate(), { clientid: 'x' })).toMatchObject({
      ok: false,
      message: expect.stringContaining('neither certurl nor url'),
    });
    expect(tokenTarget(certificate(), { certurl: 'https://c.example' })).toMatchObject({
      ok: false,
      message: expect.stringContaining('no clientid'),
    });
  });
});

describe('tokenTarget with a URL that carries more than an endpoint', () => {
  // The token URL goes into status.token.endpoint and the TokenReady message, which more people may
  // read than the Secret: a password in the URL's user part, or a query, must never get there.
  const secret = 's3cr3t-value';
  it.each([
    ['a user and password', `https://user:${secret}@cert.example`],
    ['a user only', `https://${secret}@cert.example`],
    ['a query', `https://cert.example/path?key=${secret}`],
    ['a fragment', `https://cert.example/#${secret}`],
    ['no https', `http://cert.example/${secret}`],
    ['no URL at all', `cert.example ${secret}`],
  ])('refuses a certurl with %s, naming the field and not the value', (_what, certurl) => {
    const target = tokenTarget(certificate(), { ...FIELDS, certurl });
    expect(target).toMatchObject({ ok: false, message: expect.stringContaining("the credentials' certurl") });
    expect(JSON.stringify(target)).not.toContain(secret);
  });

  it('refuses the same in spec.token.url (stored before the CRD pattern forbade a user part)', () => {
    const cert = certificate({ token: { url: `https://u:${secret}@cert.example` } });
    const target = tokenTarget(cert, FIELDS);
    expect(target).toMatchObject({ ok: false, message: expect.stringContaining('spec.token.url') });
    expect(JSON.stringify(target)).not.toContain(secret);
  });
});

describe('tokenCheckDue', () => {
  const checked = (token: NonNullable<BTPCertificateStatus['token']>) => ({ token });
  const fp = 'AA:BB';
  const done = {
    certificateFingerprint: fp,
    observedGeneration: 3,
    nextCheckTime: new Date(NOW.getTime() + HOUR).toISOString(),
  };

  it('new credentials, a spec change, a new request value, the schedule; nothing otherwise', () => {
    expect(tokenCheckDue(certificate(), fp, NOW)).toBe('new-credentials');
    expect(tokenCheckDue(certificate({}, checked({ ...done, certificateFingerprint: 'CC' })), fp, NOW)).toBe(
      'new-credentials',
    );
    expect(tokenCheckDue(certificate({}, checked({ ...done, observedGeneration: 2 })), fp, NOW)).toBe(
      'spec-changed',
    );
    expect(tokenCheckDue(certificate({}, checked(done), { [CHECK_TOKEN_ANNOTATION]: 'now' }), fp, NOW)).toBe(
      'requested',
    );
    expect(
      tokenCheckDue(
        certificate({}, checked({ ...done, lastCheckRequest: 'now' }), { [CHECK_TOKEN_ANNOTATION]: 'now' }),
        fp,
        NOW,
      ),
    ).toBeUndefined();
    expect(tokenCheckDue(certificate({}, checked(done)), fp, NOW)).toBeUndefined();
    expect(tokenCheckDue(certificate({}, checked(done)), fp, new Date(NOW.getTime() + HOUR))).toBe(
      'scheduled',
    );
  });

  it('never when the check is off', () => {
    expect(tokenCheckDue(certificate({ token: { check: false } }), fp, NOW)).toBeUndefined();
  });
});

describe('nextCheckTime', () => {
  it('after a success: the interval, up to 10 % early, per resource', () => {
    const next =
      nextCheckTime(certificate({ token: { checkInterval: '2h' } }), OK, 0, NOW).getTime() - NOW.getTime();
    expect(next).toBeGreaterThan(0.9 * 2 * HOUR);
    expect(next).toBeLessThanOrEqual(2 * HOUR);
  });

  // Regression (issue 10): an interval of 1s, stored before the CRD's 1m minimum, had a failing
  // check (and its status write) every second, each holding a worker up to the check's timeout.
  it('an interval under the 1m minimum (stored before the CRD had it) counts as 1m, after success and failure', () => {
    const oneSecond = certificate({ token: { checkInterval: '1s' } });
    const afterSuccess = nextCheckTime(oneSecond, OK, 0, NOW).getTime() - NOW.getTime();
    expect(afterSuccess).toBeGreaterThan(0.9 * 60_000);
    expect(afterSuccess).toBeLessThanOrEqual(60_000);
    expect(nextCheckTime(oneSecond, REVOKED, 8, NOW).getTime() - NOW.getTime()).toBe(60_000);
  });

  it('with a token Secret: at 2/3 of the token lifetime when that is sooner', () => {
    const short: TokenCheckResult = { ...OK, token: token(600) };
    const next = nextCheckTime(certificate({ token: { secretName: 't' } }), short, 0, NOW);
    expect(next.getTime() - NOW.getTime()).toBe(400_000);
  });

  it('after failures: backoff from 10 s, never later than the interval, never before Retry-After', () => {
    const cert = certificate();
    const first = nextCheckTime(cert, REVOKED, 1, NOW).getTime() - NOW.getTime();
    expect(first).toBeGreaterThanOrEqual(8_000);
    expect(first).toBeLessThanOrEqual(12_000);
    expect(nextCheckTime(cert, REVOKED, 30, NOW).getTime() - NOW.getTime()).toBeLessThanOrEqual(15 * 60_000);
    const tight = certificate({ token: { checkInterval: '5m' } });
    expect(nextCheckTime(tight, REVOKED, 8, NOW).getTime() - NOW.getTime()).toBe(5 * 60_000);
    const limited: TokenCheckResult = { ...REVOKED, reason: 'RateLimited', retryAfterMs: 60_000 };
    expect(nextCheckTime(cert, limited, 1, NOW).getTime() - NOW.getTime()).toBe(60_000);
  });
});

describe('decide: the token gate', () => {
  it('a passing check: TokenReady True, Ready untouched, status.token, a TokenIssued event, requeue for the next', () => {
    const cert = certificate({}, undefined, { [CHECK_TOKEN_ANNOTATION]: 'r1' });
    const plan = planFor(cert);
    const fingerprint = plan.credentials?.fingerprint ?? '';
    const { plan: out, tokenSecret } = checked(cert, NOW, { fingerprint, result: OK });
    expect(condition(out, 'TokenReady')).toMatchObject({ status: 'True', reason: 'TokenIssued' });
    // The message carries no time and no count: a later check with the same outcome writes nothing.
    const later = checked(cert, new Date(NOW.getTime() + 3_600_000), {
      fingerprint,
      result: OK,
    });
    expect(condition(later.plan, 'TokenReady')?.message).toBe(condition(out, 'TokenReady')?.message);
    expect(condition(out, 'Ready')).toMatchObject({ status: 'True', reason: 'Issued' });
    expect(out.status.token).toMatchObject({
      lastCheckTime: NOW.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      lastSuccessTime: NOW.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      certificateFingerprint: fingerprint,
      failedChecks: 0,
      observedGeneration: 3,
      lastCheckRequest: 'r1',
      endpoint: 'https://cert.example/oauth/token',
    });
    expect(out.events).toContainEqual(expect.objectContaining({ type: 'Normal', reason: 'TokenIssued' }));
    expect(out.requeueAt?.toISOString()).toBe(new Date(out.status.token?.nextCheckTime ?? '').toISOString());
    expect(tokenSecret).toBeUndefined();
    expect(JSON.stringify(out)).not.toContain('secret-token');
  });

  it('a failing check: TokenReady False with the reason, Ready False with it, kstatus, one Warning', () => {
    const cert = certificate();
    const plan = planFor(cert);
    const fingerprint = plan.credentials?.fingerprint ?? '';
    const { plan: out } = checked(cert, NOW, { fingerprint, result: REVOKED });
    expect(condition(out, 'TokenReady')).toMatchObject({ status: 'False', reason: 'InvalidClient' });
    expect(condition(out, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidClient' });
    expect(condition(out, 'Ready')?.message).toContain('no token could be fetched');
    expect(condition(out, 'Stalled')).toMatchObject({ status: 'True', reason: 'InvalidClient' });
    expect(out.status.token?.failedChecks).toBe(1);
    expect(out.status.token?.lastSuccessTime).toBeUndefined();
    expect(out.events.filter((e) => e.reason === 'InvalidClient')).toHaveLength(1);

    // The next reconcile, not due: the verdict stands, Ready stays False, no new Event.
    const again = certificate({}, out.status);
    const { plan: later } = checked(again, new Date(NOW.getTime() + 1000), undefined);
    expect(condition(later, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidClient' });
    expect(later.events.filter((e) => e.reason === 'InvalidClient')).toHaveLength(0);
    expect(later.requeueAt?.toISOString()).toBe(
      new Date(out.status.token?.nextCheckTime ?? '').toISOString(),
    );
  });

  it('refused credentials of a serviceManager source are not Stalled: it issues new ones', () => {
    const cert = certificate({
      source: { serviceManager: { serviceInstanceName: 'x', credentialsSecretRef: { name: 'sm' } } },
    });
    const { plan: out } = checked(cert, NOW, { fingerprint: 'x', result: REVOKED });
    expect(condition(out, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidClient' });
    expect(condition(out, 'Reconciling')).toMatchObject({ status: 'True', reason: 'InvalidClient' });
    expect(condition(out, 'Stalled')).toMatchObject({ status: 'False' });
  });

  it('transient failures make Ready Reconciling, not Stalled', () => {
    const cert = certificate();
    const result: TokenCheckResult = { ...REVOKED, reason: 'Unreachable', message: 'no connection' };
    const { plan: out } = checked(cert, NOW, { fingerprint: 'x', result });
    expect(condition(out, 'Reconciling')).toMatchObject({ status: 'True', reason: 'Unreachable' });
    expect(condition(out, 'Stalled')).toMatchObject({ status: 'False' });
  });

  it('a token Secret to write after a passing check, only when asked for', () => {
    const cert = certificate({ token: { secretName: 'tok' } });
    const { tokenSecret } = checked(cert, NOW, { fingerprint: 'x', result: OK });
    expect(tokenSecret).toEqual({ name: 'tok', token: OK.ok ? OK.token : undefined });
    const { tokenSecret: none } = checked(cert, NOW, {
      fingerprint: 'x',
      result: REVOKED,
    });
    expect(none).toBeUndefined();
  });

  it('check off: TokenReady Unknown/Disabled, status.token dropped, Ready as decide() made it', () => {
    const cert = certificate({ token: { check: false } }, { token: { failedChecks: 3 } });
    const { plan: out } = checked(cert, NOW, undefined);
    expect(condition(out, 'TokenReady')).toMatchObject({ status: 'Unknown', reason: 'Disabled' });
    expect(condition(out, 'Ready')).toMatchObject({ status: 'True' });
    expect(out.status.token).toBeUndefined();
  });

  it('a certificateName source without spec.token.url is not checked: TokenReady says why, Ready is Issued', () => {
    // Regression: the default token {} made gather check it, found no endpoint and stalled Ready.
    const stored = { credentialsSecretRef: { name: 'binding' }, certificateName: 'app.pem' };
    for (const destination of [stored, { ...stored, generate: { commonName: 'app' } }]) {
      const cert = certificate({ source: { destination }, token: {} });
      expect(tokenCheckDue(cert, 'x', NOW)).toBeUndefined();
      const { plan: out } = checked(cert, NOW, undefined);
      expect(condition(out, 'TokenReady')).toMatchObject({
        status: 'Unknown',
        reason: 'Disabled',
        message: expect.stringContaining('certificateName'),
      });
      expect(condition(out, 'Ready')).toMatchObject({ status: 'True', reason: 'Issued' });
      expect(condition(out, 'Stalled')).toMatchObject({ status: 'False' });
    }
  });

  it('a certificateName source with spec.token.url: no client id to ask with, and the message says so', () => {
    const destination = { credentialsSecretRef: { name: 'binding' }, certificateName: 'app.pem' };
    const cert = certificate({ source: { destination }, token: { url: 'https://x.example' } });
    expect(tokenCheckDue(cert, 'x', NOW)).toBe('new-credentials');
    const target = tokenTarget(cert, { Name: 'app.pem', type: 'destination' });
    expect(target).toMatchObject({ ok: false, message: expect.stringContaining('remove spec.token.url') });
  });

  it('nothing checked yet (the credentials are not valid): TokenReady Unknown/TokenCheckPending', () => {
    const cert = certificate();
    const failing = decide({
      certificate: cert,
      source: { ok: false, description: 'Secret/src', reason: 'SourceNotFound', message: 'gone' },
      secret: undefined,
      keystorePassword: undefined,
      now: NOW,
    });
    const out = failing;
    expect(condition(out, 'TokenReady')).toMatchObject({ status: 'Unknown', reason: 'TokenCheckPending' });
    expect(condition(out, 'Ready')).toMatchObject({ status: 'False', reason: 'SourceNotFound' });
  });
});

describe('tokenFailure', () => {
  it.each(BTP_ERROR_CODES)('maps %s to a documented TokenReady reason', (code) => {
    const failure = tokenFailure(
      new BtpError(code, `POST cert.example/oauth/token: ${code}`, { httpStatus: 418 }),
    );
    expect(Object.hasOwn(Reasons, failure.reason)).toBe(true);
    expect(failure.message).toContain('HTTP 418');
  });

  it('names the reasons the issue asks for', () => {
    const reason = (code: (typeof BTP_ERROR_CODES)[number], httpStatus?: number) =>
      tokenFailure(new BtpError(code, 'x', httpStatus === undefined ? {} : { httpStatus })).reason;
    expect(reason('BtpTLSHandshakeFailed')).toBe('TLSHandshakeFailed');
    expect(reason('BtpUnauthorized', 401)).toBe('InvalidClient');
    expect(reason('BtpUnsupportedCredential', 401)).toBe('WrongEndpoint');
    expect(reason('BtpRateLimited', 429)).toBe('RateLimited');
    expect(reason('BtpUnreachable')).toBe('Unreachable');
    expect(reason('BtpTimeout')).toBe('Timeout');
    expect(reason('BtpServerError', 503)).toBe('UnexpectedResponse');
    expect(reason('BtpServerCertificateUntrusted')).toBe('ServerCertificateUntrusted');
    // A token URL we refuse to send to (not https) is the wrong endpoint.
    expect(reason('BtpBadRequest')).toBe('WrongEndpoint');
    expect(tokenFailure(new Error('boom')).reason).toBe('UnexpectedResponse');
  });

  it('keeps Retry-After', () => {
    expect(
      tokenFailure(new BtpError('BtpRateLimited', 'x', { httpStatus: 429, retryAfterMs: 5000 })),
    ).toMatchObject({
      retryAfterMs: 5000,
    });
  });
});
