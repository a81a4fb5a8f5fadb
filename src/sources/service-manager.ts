// Source `serviceManager`: what the controller needs from the Service Manager API. The BTP client
// (src/btp) implements this port; tests of the controller use the same client against the BTP
// simulator.
import type { SmAccess } from './service-manager-access.ts';

export type SmBinding = {
  readonly id: string;
  readonly name: string;
  readonly instanceId: string;
  readonly credentials: Readonly<Record<string, unknown>>;
  readonly labels: Readonly<Record<string, readonly string[]>>;
  readonly createdAt: string | undefined;
  /** False while its creation is still in progress (or stuck). */
  readonly ready: boolean;
};

export interface ServiceManagerPort {
  /** The instance ID for an instance name; undefined when there is none. */
  findInstanceId(name: string): Promise<string | undefined>;
  listBindingsByLabel(key: string, value: string): Promise<readonly SmBinding[]>;
  /** Creates a binding, waiting (bounded) for an asynchronous creation to finish. */
  createBinding(request: {
    readonly name: string;
    readonly instanceId: string;
    readonly parameters: Readonly<Record<string, unknown>>;
    readonly labels: Readonly<Record<string, readonly string[]>>;
  }): Promise<SmBinding>;
  /** undefined when it does not exist (any more). */
  getBinding(id: string): Promise<SmBinding | undefined>;
  /** Idempotent: a binding that is already gone is fine. */
  deleteBinding(id: string): Promise<void>;
  /** Closes its connections and forgets its token (the credential was replaced). */
  close(): Promise<void>;
}

/** One client per access credential (cached by the caller's implementation). */
export type ServiceManagerFactory = (access: SmAccess) => ServiceManagerPort;
