// The destination source's gather step: the access from its binding Secret, the keystore password,
// and the Destination service's answer (a destination's keystore, or a stored certificate), read
// on a schedule rather than at every reconcile (./destination-reads.ts), every failure as a value.
import { createHash } from 'node:crypto';
import type { BTPCertificate } from '../api/types.ts';
import { isBtpError } from '../btp/errors.ts';
import type { KubeApi } from '../kube/api.ts';
import type { SourceFailure } from '../sources/credentials.ts';
import {
  btpReason,
  certificateLevel,
  credentialsFromKeystore,
  destinationAccessFromFields,
  destinationFields,
  destinationKeystore,
} from '../sources/destination.ts';
import type { DestinationPort, FoundDestination, StoredCertificate } from '../sources/destination-port.ts';
import { fieldsFromSecret } from '../sources/secret-source.ts';
import type { DependencyKind } from './dependencies.ts';
import { generateFromDestination, STORED_CERTIFICATE_SOURCE } from './destination-generate.ts';
import {
  type DestinationAnswer,
  type DestinationSessions,
  type LastRead,
  readDueAt,
  readSpec,
} from './destination-reads.ts';
import type { SourceObservation } from './plan.ts';

export type DestinationDeps = {
  readonly getSecretData: (namespace: string, name: string) => Promise<Record<string, string> | undefined>;
  /** Reads and writes the pending-key Secret of a generated certificate, and reads the target Secret. */
  readonly kube: Pick<KubeApi, 'getSecret' | 'applySecret'>;
  /** undefined: the operator runs without a Destination service client (a test harness). */
  readonly sessions: DestinationSessions | undefined;
};

/** How soon a failed read is tried again (a Retry-After asks for longer). */
export const READ_RETRY_MS = 30_000;
/** How soon an answer without usable credentials (InvalidKeystore, ...) is read again. */
export const UNUSABLE_ANSWER_READ_MS = 5 * 60_000;

type Touched = { kind: DependencyKind; object: string }[];

export async function observeDestination(
  cert: BTPCertificate,
  deps: DestinationDeps,
  now: Date,
  touched: Touched,
): Promise<SourceObservation> {
  const source = cert.spec.source.destination;
  const ns = cert.metadata.namespace;
  const name = source?.destinationName ?? source?.certificateName ?? '';
  const description =
    source?.destinationName !== undefined ? `Destination/${name}` : `${STORED_CERTIFICATE_SOURCE}/${name}`;
  const failed = (f: SourceFailure & { recheckAfterMs?: number }): SourceObservation => ({
    ...f,
    description,
  });
  if (source === undefined)
    return failed({ ok: false, reason: 'InvalidCredentials', message: 'no destination source' });
  if (deps.sessions === undefined) {
    return failed({
      ok: false,
      reason: 'DestinationServiceError',
      message: 'this operator has no Destination service client configured',
    });
  }

  const ref = source.credentialsSecretRef;
  touched.push({ kind: 'secret', object: `${ns}/${ref.name}` });
  const data = await deps.getSecretData(ns, ref.name);
  if (data === undefined) {
    return failed({
      ok: false,
      reason: 'SourceNotFound',
      message: `Destination service access Secret ${ref.name} not found`,
    });
  }
  const fields = fieldsFromSecret(data, ref.name, ref.key);
  if (!fields.ok) return failed(fields);
  const access = destinationAccessFromFields(fields.fields, ref.name);
  if (!access.ok) return failed(access);

  let password: string | undefined;
  if (source.passwordSecretRef !== undefined) {
    const p = source.passwordSecretRef;
    touched.push({ kind: 'secret', object: `${ns}/${p.name}` });
    const secret = await deps.getSecretData(ns, p.name);
    password = secret?.[p.key];
    if (password === undefined) {
      return failed({
        ok: false,
        reason: 'PasswordSecretNotFound',
        message: secret === undefined ? `Secret ${p.name} not found` : `Secret ${p.name} has no key ${p.key}`,
      });
    }
  }

  const port = await deps.sessions.use(cert, access.access);
  if (source.generate !== undefined) {
    return generateFromDestination(
      cert,
      port,
      { kube: deps.kube, attempts: deps.sessions.attempts },
      now,
      description,
    );
  }
  const spec = readSpec(cert);
  const last = deps.sessions.lastRead(cert, port, spec);
  let read: LastRead;
  if (last !== undefined && now < readDueAt(cert, last)) {
    read = last;
  } else {
    const answer = await readFromService(cert, port);
    if (answer.ok) {
      read = { port, spec, at: now, answer: answer.answer };
    } else if (last !== undefined && answer.retryable) {
      // The answer this process read last is kept through an outage of the Destination service;
      // the read is tried again after the retry time.
      read = { ...last, retryAt: new Date(now.getTime() + answer.retryAfterMs) };
    } else {
      return failed({
        ...answer.failure,
        ...(answer.retryable ? { recheckAfterMs: answer.retryAfterMs } : {}),
      });
    }
    deps.sessions.remember(cert, read);
  }
  const { answer } = read;

  const credentials =
    answer.kind === 'destination'
      ? destinationCredentials(answer.found, password)
      : credentialsFromKeystore(answer.file, password, { Name: answer.file.name, type: 'destination' });
  if (!credentials.ok) {
    // An answer that gives no usable credentials (a corrupt file, another password) is fixed in the
    // Destination service: it is read again sooner than a good one.
    const retryAt = read.retryAt ?? new Date(read.at.getTime() + UNUSABLE_ANSWER_READ_MS);
    if (read.retryAt === undefined) deps.sessions.remember(cert, { ...read, retryAt });
    return failed({ ...credentials, recheckAfterMs: Math.max(1000, retryAt.getTime() - now.getTime()) });
  }
  const file =
    answer.kind === 'destination'
      ? destinationKeystore(answer.found)
      : { ok: true as const, file: answer.file };
  return {
    ok: true,
    description,
    revision: `${name}@${file.ok ? contentId(file.file) : ''}`,
    credentials,
    renewal: { kind: 'destination', nextReadAt: readDueAt(cert, read) },
  };
}

function destinationCredentials(found: FoundDestination, password: string | undefined) {
  const file = destinationKeystore(found);
  if (!file.ok) return file;
  const keystorePassword = password ?? found.configuration.keyStorePassword?.reveal();
  return credentialsFromKeystore(file.file, keystorePassword, destinationFields(found));
}

type Read =
  | { readonly ok: true; readonly answer: DestinationAnswer }
  | {
      readonly ok: false;
      readonly failure: SourceFailure;
      readonly retryable: boolean;
      readonly retryAfterMs: number;
    };

async function readFromService(cert: BTPCertificate, port: DestinationPort): Promise<Read> {
  const spec = cert.spec.source.destination;
  try {
    if (spec?.destinationName !== undefined) {
      const found = await port.findDestination(spec.destinationName, spec.level);
      if (found === undefined) return notFound(`destination ${spec.destinationName}`);
      return { ok: true, answer: { kind: 'destination', found } };
    }
    const level = certificateLevel(cert);
    const file = await port.getCertificate(spec?.certificateName ?? '', level);
    if (file === undefined) return notFound(`certificate ${spec?.certificateName} (${level} level)`);
    return { ok: true, answer: { kind: 'certificate', file } };
  } catch (e) {
    if (!isBtpError(e)) throw e;
    return {
      ok: false,
      failure: { ok: false, reason: btpReason(e.code), message: `Destination service: ${e.message}` },
      retryable: e.retryable,
      retryAfterMs: Math.max(READ_RETRY_MS, e.retryAfterMs ?? 0),
    };
  }
}

const notFound = (what: string): Read => ({
  ok: false,
  failure: { ok: false, reason: 'SourceNotFound', message: `${what} not found in the Destination service` },
  retryable: true,
  retryAfterMs: READ_RETRY_MS,
});

/** A short id of a stored file's content, for status.sourceRevision. */
function contentId(file: StoredCertificate): string {
  return createHash('sha256').update(file.content).digest('hex').slice(0, 16);
}
