// The Service Manager process state keeps credentials per (client, BTPCertificate uid) and acts on
// a binding only if its labels name that certificate (issue 10, point 1; ADR 0011).
import { describe, expect, it } from 'vitest';
import { bindingMismatch, LABEL_UID } from '../../../src/certificate/bindings.ts';
import { DependencyIndex } from '../../../src/certificate/dependencies.ts';
import { OwnWrites } from '../../../src/certificate/own-writes.ts';
import { forgetCertificate } from '../../../src/certificate/reconcile.ts';
import { ServiceManagerSessions } from '../../../src/certificate/service-manager-sessions.ts';
import type { ServiceManagerPort, SmBinding } from '../../../src/sources/service-manager.ts';
import type { SmAccess } from '../../../src/sources/service-manager-access.ts';

const VICTIM = 'uid-victim';
const ATTACKER = 'uid-attacker';

const binding = (id: string, uid: string, extra: Partial<SmBinding> = {}): SmBinding => ({
  id,
  name: `btpcert-${uid}-r1`,
  instanceId: 'instance-1',
  credentials: { owner: uid },
  labels: { [LABEL_UID]: [uid] },
  createdAt: undefined,
  ready: true,
  ...extra,
});

/** A Service Manager that holds `bindings` and records what it was asked to delete. */
function port(bindings: SmBinding[] = []): ServiceManagerPort & { deleted: string[]; gets: number } {
  const deleted: string[] = [];
  const self = {
    deleted,
    gets: 0,
    findInstanceId: async () => 'instance-1',
    listBindingsByLabel: async () => bindings,
    createBinding: async () => {
      throw new Error('not used');
    },
    getBinding: async (id: string) => {
      self.gets += 1;
      return bindings.find((b) => b.id === id && !deleted.includes(id));
    },
    deleteBinding: async (id: string) => {
      deleted.push(id);
    },
    close: async () => {},
  };
  return self;
}

const access = (clientId: string): SmAccess => ({
  smUrl: 'https://sm.example',
  tokenUrl: 'https://auth.example/oauth/token',
  clientId,
  auth: { kind: 'secret', clientSecret: 's' },
});

function sessions(ports: Record<string, ServiceManagerPort> = {}) {
  return new ServiceManagerSessions(
    (a) => ports[a.clientId] ?? port(),
    async () => {},
  );
}

describe('ServiceManagerSessions credentials', () => {
  it("never serves one certificate's credentials to another, whatever the binding ID", () => {
    const s = sessions();
    const sm = port();
    s.remember(sm, VICTIM, binding('b-1', VICTIM));
    expect(s.credentials(sm, VICTIM, 'b-1')).toEqual({ owner: VICTIM });
    expect(s.credentials(sm, ATTACKER, 'b-1')).toBeUndefined();
  });

  it("an attacker's binding with the victim's ID does not replace the victim's credentials", () => {
    const s = sessions();
    const victimSm = port();
    const attackerSm = port();
    s.remember(victimSm, VICTIM, binding('b-1', VICTIM));
    s.remember(attackerSm, ATTACKER, binding('b-1', ATTACKER));
    expect(s.credentials(victimSm, VICTIM, 'b-1')).toEqual({ owner: VICTIM });
    expect(s.credentials(attackerSm, ATTACKER, 'b-1')).toEqual({ owner: ATTACKER });
  });

  it('keeps nothing for a binding that does not carry the uid label', () => {
    const s = sessions();
    const sm = port();
    s.remember(sm, ATTACKER, binding('b-1', VICTIM));
    expect(s.credentials(sm, ATTACKER, 'b-1')).toBeUndefined();
  });

  it('does not serve what was kept through another client (the access changed)', () => {
    const s = sessions();
    const before = port();
    const after = port();
    s.remember(before, VICTIM, binding('b-1', VICTIM));
    expect(s.credentials(after, VICTIM, 'b-1')).toBeUndefined();
    s.remember(after, VICTIM, binding('b-2', VICTIM));
    expect(s.credentials(before, VICTIM, 'b-1')).toBeUndefined();
  });

  it('forgets a deleted binding, and everything of a forgotten certificate', async () => {
    const s = sessions();
    const sm = port([binding('b-1', VICTIM), binding('b-2', VICTIM)]);
    s.remember(sm, VICTIM, binding('b-1', VICTIM));
    s.remember(sm, VICTIM, binding('b-2', VICTIM));
    expect(await s.deleteBinding(sm, VICTIM, 'b-1')).toBe('deleted');
    expect(s.credentials(sm, VICTIM, 'b-1')).toBeUndefined();
    expect(s.credentials(sm, VICTIM, 'b-2')).toBeDefined();
    await s.forget(VICTIM);
    expect(s.credentials(sm, VICTIM, 'b-2')).toBeUndefined();
  });
});

/** Sessions over one client per access clientId, recording which clients were released. */
function releasing() {
  const ports = new Map<string, ServiceManagerPort>();
  const released: ServiceManagerPort[] = [];
  const s = new ServiceManagerSessions(
    (a) => {
      let p = ports.get(a.clientId);
      if (p === undefined) {
        p = port();
        ports.set(a.clientId, p);
      }
      return p;
    },
    async (p) => {
      released.push(p);
    },
  );
  return { s, released };
}

/** What the controller does with the key of a BTPCertificate that is gone from its cache. */
const gone = (key: string, sessions: ServiceManagerSessions) =>
  forgetCertificate(key, {
    dependencies: new DependencyIndex(),
    tokens: { check: async () => ({ ok: false }) as never, forget: async () => {} },
    destination: { getSecretData: async () => undefined, kube: {} as never, sessions: undefined },
    sm: { sessions } as never,
    ownWrites: new OwnWrites(),
  });

describe('ServiceManagerSessions of a certificate gone without its finalizer (review S2)', () => {
  it('a certificate gone from the cache loses its credentials and its client is released', async () => {
    const { s, released } = releasing();
    const sm = await s.use('tenant/a', VICTIM, access('tenant'));
    s.remember(sm, VICTIM, binding('b-1', VICTIM));
    s.swept(VICTIM, 1);
    await gone('tenant/a', s);
    expect(s.credentials(sm, VICTIM, 'b-1')).toBeUndefined();
    expect(s.lastClient(VICTIM)).toBeUndefined();
    expect(s.lastSweep(VICTIM)).toBeUndefined();
    expect(released).toEqual([sm]);
  });

  it('a client another certificate still uses stays open', async () => {
    const { s, released } = releasing();
    const sm = await s.use('tenant/a', VICTIM, access('shared'));
    expect(await s.use('tenant/b', ATTACKER, access('shared'))).toBe(sm);
    await gone('tenant/a', s);
    expect(released).toEqual([]);
    expect(s.lastClient(ATTACKER)).toBe(sm);
    await gone('tenant/b', s);
    expect(released).toEqual([sm]);
  });

  it('a new object under the same name drops what was kept for the old one', async () => {
    const { s, released } = releasing();
    const sm = await s.use('tenant/a', VICTIM, access('old'));
    s.remember(sm, VICTIM, binding('b-1', VICTIM));
    const next = await s.use('tenant/a', ATTACKER, access('new'));
    expect(s.credentials(sm, VICTIM, 'b-1')).toBeUndefined();
    expect(s.lastClient(VICTIM)).toBeUndefined();
    expect(released).toEqual([sm]);
    await gone('tenant/a', s);
    expect(released).toEqual([sm, next]);
  });

  it('the finalizer forgetting a certificate releases a client no other uses', async () => {
    const { s, released } = releasing();
    const sm = await s.use('tenant/a', VICTIM, access('tenant'));
    await s.forget(VICTIM);
    expect(released).toEqual([sm]);
    await gone('tenant/a', s);
    expect(released).toEqual([sm]);
  });
});

describe('ServiceManagerSessions.deleteBinding', () => {
  it("leaves alone a binding whose labels name another certificate (the victim's ID under shared access)", async () => {
    const sm = port([binding('b-1', VICTIM)]);
    expect(await sessions().deleteBinding(sm, ATTACKER, 'b-1')).toBe('not-owned');
    expect(sm.deleted).toEqual([]);
  });

  it('deletes its own binding after looking it up, and one already gone is fine', async () => {
    const sm = port([binding('b-1', VICTIM)]);
    const s = sessions();
    expect(await s.deleteBinding(sm, VICTIM, 'b-1')).toBe('deleted');
    expect(sm.deleted).toEqual(['b-1']);
    expect(await s.deleteBinding(sm, VICTIM, 'b-1')).toBe('deleted');
    expect(sm.deleted).toEqual(['b-1']);
  });

  it('needs no lookup for a binding it holds through that client', async () => {
    const sm = port([binding('b-1', VICTIM)]);
    const s = sessions();
    s.remember(sm, VICTIM, binding('b-1', VICTIM));
    await s.deleteBinding(sm, VICTIM, 'b-1');
    expect(sm.gets).toBe(0);
    expect(sm.deleted).toEqual(['b-1']);
  });

  it('the client of an access is the factory one', () => {
    const own = port();
    expect(sessions({ me: own }).client(access('me'))).toBe(own);
  });
});

describe('bindingMismatch', () => {
  const own = binding('b-1', VICTIM);
  it.each([
    ['its own binding', own, {}, undefined],
    [
      'another uid',
      binding('b-1', ATTACKER),
      {},
      `binding b-1 does not carry the label ${LABEL_UID}=${VICTIM}`,
    ],
    [
      'two uids',
      binding('b-1', VICTIM, { labels: { [LABEL_UID]: [VICTIM, ATTACKER] } }),
      {},
      `binding b-1 does not carry the label ${LABEL_UID}=${VICTIM}`,
    ],
    [
      'no labels',
      binding('b-1', VICTIM, { labels: {} }),
      {},
      `binding b-1 does not carry the label ${LABEL_UID}=${VICTIM}`,
    ],
    ['another ID', own, { id: 'b-2' }, 'Service Manager answered with binding b-1 where b-2 was asked for'],
    ['another name', own, { name: 'x' }, `binding b-1 is named btpcert-${VICTIM}-r1, not x`],
    [
      'another instance',
      own,
      { instanceId: 'instance-2' },
      'binding b-1 belongs to service instance instance-1, not instance-2',
    ],
    [
      'a long ID from the Service Manager, shortened',
      binding('x'.repeat(5000), ATTACKER),
      {},
      `binding ${'x'.repeat(100)}… does not carry the label ${LABEL_UID}=${VICTIM}`,
    ],
  ] as const)('%s', (_, b, claim, expected) => {
    expect(bindingMismatch(b, { uid: VICTIM, ...claim })).toBe(expected);
  });
});
