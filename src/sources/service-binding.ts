// Source `serviceBinding`: a services.cloud.sap.com/v1 ServiceBinding of the Kyma BTP operator and
// the Secret it writes, in any of its three layouts.
import { isRecord } from '../runtime/is-record.ts';
import { type Fields, flattenFields, parseJsonObject, type SourceFailure } from './credentials.ts';

export const SERVICE_BINDING_GROUP = 'services.cloud.sap.com';
export const SERVICE_BINDING_VERSION = 'v1';
export const SERVICE_BINDING_PLURAL = 'servicebindings';
export const FORCE_ROTATE_ANNOTATION = 'services.cloud.sap.com/forceRotate';
/** On the backup ServiceBinding `<name>-<6 chars>` a rotation leaves behind; its value is the old binding ID. */
export const STALE_LABEL = 'services.cloud.sap.com/stale';
/** On that backup: the name of the ServiceBinding it was rotated out of. */
export const ROTATION_OF_LABEL = 'services.cloud.sap.com/rotationOf';

export type ServiceBindingView = {
  readonly name: string;
  readonly secretName: string;
  readonly secretKey: string | undefined;
  readonly secretRootKey: string | undefined;
  readonly ready: boolean;
  /** The message of its Failed, failing Succeeded, or Ready condition, for SourceNotReady. */
  readonly readyMessage: string;
  readonly rotationEnabled: boolean;
  readonly rotationRequested: boolean;
  /**
   * Why the BTP operator would not act on forceRotate now: it skips it while the Succeeded
   * condition is False, which a Service Manager 429 can leave behind with Ready still True.
   */
  readonly rotationBlocked: string | undefined;
  /**
   * A rotation is running (CredRotationInProgress True): the BTP operator removes forceRotate at
   * each of its steps, so a request made now would be dropped.
   */
  readonly rotationInProgress: boolean;
  /** A stale backup left by a rotation (label services.cloud.sap.com/stale), never a source. */
  readonly stale: boolean;
  /** On a stale backup: the ServiceBinding it was rotated out of, when it says. */
  readonly rotationOf: string | undefined;
  readonly bindingID: string;
};

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Reads what the controller needs from a ServiceBinding object (unknown shape at the boundary). */
export function viewServiceBinding(obj: unknown): ServiceBindingView | undefined {
  if (!isRecord(obj) || !isRecord(obj.metadata)) return undefined;
  const name = str(obj.metadata.name);
  if (name === undefined) return undefined;
  const spec = isRecord(obj.spec) ? obj.spec : {};
  const status = isRecord(obj.status) ? obj.status : {};
  const annotations = isRecord(obj.metadata.annotations) ? obj.metadata.annotations : {};
  const labels = isRecord(obj.metadata.labels) ? obj.metadata.labels : {};
  const rotation = isRecord(spec.credentialsRotationPolicy) ? spec.credentialsRotationPolicy : {};
  const conditions = Array.isArray(status.conditions) ? status.conditions.filter(isRecord) : [];
  const ready = conditions.find((c) => c.type === 'Ready');
  const failed = conditions.find((c) => c.type === 'Failed' && c.status === 'True');
  const succeeded = conditions.find((c) => c.type === 'Succeeded');
  return {
    name,
    secretName: str(spec.secretName) ?? name,
    secretKey: str(spec.secretKey),
    secretRootKey: str(spec.secretRootKey),
    ready: status.ready === 'True' || ready?.status === 'True',
    readyMessage:
      str(failed?.message) ??
      (succeeded?.status === 'False' ? str(succeeded.message) : undefined) ??
      str(ready?.message) ??
      str(ready?.reason) ??
      'no Ready condition yet',
    rotationEnabled: rotation.enabled === true,
    // The BTP operator acts on the annotation being there, whatever its value.
    rotationRequested: typeof annotations[FORCE_ROTATE_ANNOTATION] === 'string',
    rotationBlocked:
      succeeded?.status === 'False'
        ? `its Succeeded condition is False (${[str(succeeded.reason), str(succeeded.message)].filter((t) => t !== undefined).join(': ') || 'no reason'})`
        : undefined,
    rotationInProgress: conditions.some((c) => c.type === 'CredRotationInProgress' && c.status === 'True'),
    stale: typeof labels[STALE_LABEL] === 'string',
    rotationOf: str(labels[ROTATION_OF_LABEL]),
    bindingID: str(status.bindingID) ?? '',
  };
}

/** The credential fields in the ServiceBinding's Secret, whichever layout it uses. */
export function fieldsFromBindingSecret(
  binding: ServiceBindingView,
  data: Readonly<Record<string, string>>,
): Fields | SourceFailure {
  if (binding.stale) {
    // It holds the credentials of the replaced binding, deleted (and revoked) after rotatedBindingTTL.
    const original = binding.rotationOf ?? 'the rotated ServiceBinding';
    return {
      ok: false,
      reason: 'SourceNotReady',
      message: `ServiceBinding ${binding.name} is the stale backup a credentials rotation left behind (label ${STALE_LABEL}), deleted after rotatedBindingTTL: name ${original} as the source`,
    };
  }
  const origin = `Secret ${binding.secretName} of ServiceBinding ${binding.name}`;
  if (binding.secretRootKey !== undefined)
    return jsonUnder(data, binding.secretRootKey, origin, 'secretRootKey');
  if (binding.secretKey !== undefined) {
    const creds = jsonUnder(data, binding.secretKey, origin, 'secretKey');
    if (!creds.ok) return creds;
    // The metadata keys (type, label, plan, ...) stay beside the credentials in this layout.
    const { [binding.secretKey]: _credentials, '.metadata': _metadata, ...beside } = data;
    return { ok: true, fields: { ...beside, ...creds.fields } };
  }
  const { '.metadata': _metadata, ...fields } = data;
  return { ok: true, fields };
}

function jsonUnder(
  data: Readonly<Record<string, string>>,
  key: string,
  origin: string,
  setting: string,
): Fields | SourceFailure {
  const text = data[key];
  if (text === undefined) {
    return {
      ok: false,
      reason: 'SourceNotReady',
      message: `${origin} has no key ${key} (its ${setting}) yet`,
    };
  }
  const doc = parseJsonObject(text, `${origin} key ${key}`);
  if (!doc.ok) return doc;
  return { ok: true, fields: flattenFields(doc.value) };
}
