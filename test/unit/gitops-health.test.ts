// deploy/argocd/health.lua, run by a Lua VM as Argo CD runs it, and the kstatus rules Flux uses, on
// hand-made objects: every state each can report, and the script's list of stalling reasons against
// the catalogue. What the operator really writes is in test/integration/gitops-health.test.ts.
import { describe, expect, it } from 'vitest';
import { Reasons } from '../../src/api/conditions.ts';
import { argoHealth } from '../support/gitops/argocd-health.ts';
import { kstatus } from '../support/gitops/kstatus.ts';

type Cond = { type: string; status: string; reason?: string; message?: string; observedGeneration?: number };
const cert = (
  conditions: Cond[] | undefined,
  generation = 2,
  observedGeneration: number | undefined = 2,
) => ({
  apiVersion: 'btpcerts.io/v1alpha1',
  kind: 'BTPCertificate',
  metadata: { name: 'c', namespace: 'n', generation },
  spec: { secretName: 's', source: { secret: { name: 'src' } } },
  ...(conditions === undefined
    ? {}
    : {
        status: {
          ...(observedGeneration === undefined ? {} : { observedGeneration }),
          conditions: conditions.map((c) => ({
            reason: 'Progressing',
            message: 'm',
            observedGeneration: 2,
            ...c,
          })),
        },
      }),
});
const ready = (status: string, reason: string, message = 'why'): Cond => ({
  type: 'Ready',
  status,
  reason,
  message,
});
const kc = (type: 'Stalled' | 'Reconciling', on: boolean, reason = 'Progressing', message = 'not') => ({
  type,
  status: on ? 'True' : 'False',
  reason,
  message,
});

describe('the Argo CD health script and the kstatus rules', () => {
  it.each([
    ['no status yet', cert(undefined), 'Progressing', 'Waiting for the operator', 'Current'],
    [
      'Ready for the current generation',
      cert([
        ready('True', 'Issued', 'the Secret holds valid credentials'),
        kc('Reconciling', false),
        kc('Stalled', false),
      ]),
      'Healthy',
      'Issued: the Secret holds valid credentials',
      'Current',
    ],
    [
      'a generation not observed yet',
      cert([ready('True', 'Issued'), kc('Reconciling', false), kc('Stalled', false)], 3, 2),
      'Progressing',
      'Waiting for the operator to observe generation 3',
      'InProgress',
    ],
    [
      'waiting for the source',
      cert([
        ready('False', 'SourceNotFound', 'Secret src not found'),
        kc('Reconciling', true, 'SourceNotFound', 'Secret src not found'),
        kc('Stalled', false),
      ]),
      'Progressing',
      'SourceNotFound: Secret src not found',
      'InProgress',
    ],
    [
      'stalled',
      cert([
        ready('False', 'KeyMismatch', 'the key does not match'),
        kc('Reconciling', false),
        kc('Stalled', true, 'KeyMismatch', 'the key does not match'),
      ]),
      'Degraded',
      'KeyMismatch: the key does not match',
      'Failed',
    ],
    [
      // serviceManager: a refused certificate is replaced by the operator itself (Reconciling).
      'a stalling reason the operator works on',
      cert([
        ready('False', 'TLSHandshakeFailed', 'refused'),
        kc('Reconciling', true, 'TLSHandshakeFailed', 'refused'),
        kc('Stalled', false),
      ]),
      'Progressing',
      'TLSHandshakeFailed: refused',
      'InProgress',
    ],
    [
      'Ready=False with a stalling reason and no Stalled condition',
      cert([ready('False', 'Expired', 'expired at x')]),
      'Degraded',
      'Expired: expired at x',
      'Current',
    ],
  ])('%s', (_name, object, health, message, flux) => {
    expect(argoHealth(object)).toEqual({ status: health, message });
    expect(kstatus(object)).toBe(flux);
  });

  it('call Degraded exactly the Ready reasons the catalogue says stall', () => {
    for (const [reason, info] of Object.entries(Reasons)) {
      const health = argoHealth(cert([ready('False', reason, 'm')])).status;
      expect({ reason, health }).toEqual({ reason, health: info.stalls ? 'Degraded' : 'Progressing' });
    }
  });

  it('a BTPCertificate being deleted is Terminating for kstatus', () => {
    const object = cert([ready('False', 'BindingsDeleted')]);
    expect(
      kstatus({ ...object, metadata: { ...object.metadata, deletionTimestamp: '2026-01-01T00:00:00Z' } }),
    ).toBe('Terminating');
  });
});
