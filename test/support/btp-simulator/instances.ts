// The seeded service instances, with the offerings and plans they belong to. Instances are
// fixed by configuration (and `addInstance`); the Service Manager only reads them.
import { randomUUID } from 'node:crypto';
import { type OfferingKind, offeringKind } from './binding-parameters.ts';
import { InputError, optionalString, rejectUnknownKeys, requireRecord, requireString } from './input.ts';

export interface InstanceSpec {
  readonly id?: string;
  readonly name: string;
  /** Catalog name of the offering: 'xsuaa', 'destination', 'auditlog', 'jobscheduler', ... */
  readonly offering: string;
  readonly plan?: string;
}

export interface ServiceInstance {
  readonly id: string;
  readonly name: string;
  readonly offering: string;
  readonly offeringKind: OfferingKind;
  readonly offeringId: string;
  readonly plan: string;
  readonly planId: string;
  /** The xsappname bindings of this instance carry. */
  readonly xsappname: string;
  readonly createdAt: Date;
}

export interface Offering {
  readonly id: string;
  readonly name: string;
}

export interface Plan {
  readonly id: string;
  readonly name: string;
  readonly offeringId: string;
}

export const DEFAULT_INSTANCES: readonly InstanceSpec[] = [
  { name: 'xsuaa-application', offering: 'xsuaa', plan: 'application' },
  { name: 'destination-lite', offering: 'destination', plan: 'lite' },
  { name: 'auditlog-standard', offering: 'auditlog', plan: 'standard' },
];

const DEFAULT_PLANS: Readonly<Record<string, string>> = {
  xsuaa: 'application',
  destination: 'lite',
  auditlog: 'standard',
  jobscheduler: 'standard',
  'service-manager': 'service-operator-access',
};

export function parseInstanceSpec(value: unknown): InstanceSpec {
  const record = requireRecord(value, 'instance');
  rejectUnknownKeys(record, ['id', 'name', 'offering', 'plan'], 'instance');
  const id = optionalString(record.id, 'instance.id');
  const plan = optionalString(record.plan, 'instance.plan');
  return {
    name: requireString(record.name, 'instance.name'),
    offering: requireString(record.offering, 'instance.offering'),
    ...(id === undefined ? {} : { id }),
    ...(plan === undefined ? {} : { plan }),
  };
}

export class Catalogue {
  readonly #instances = new Map<string, ServiceInstance>();
  readonly #offerings = new Map<string, Offering>();
  readonly #plans = new Map<string, Plan>();
  #appSequence = 100;

  add(spec: InstanceSpec, createdAt: Date): ServiceInstance {
    const id = spec.id ?? randomUUID();
    if (this.#instances.has(id)) throw new InputError(`instance id ${id} is already used`);
    if ([...this.#instances.values()].some((instance) => instance.name === spec.name)) {
      throw new InputError(`instance name ${spec.name} is already used`);
    }
    const offering = this.#offering(spec.offering);
    const plan = this.#plan(offering, spec.plan ?? DEFAULT_PLANS[spec.offering] ?? 'standard');
    this.#appSequence += 1;
    const instance: ServiceInstance = {
      id,
      name: spec.name,
      offering: offering.name,
      offeringKind: offeringKind(offering.name),
      offeringId: offering.id,
      plan: plan.name,
      planId: plan.id,
      xsappname: `${spec.name}!t${this.#appSequence}`,
      createdAt,
    };
    this.#instances.set(id, instance);
    return instance;
  }

  instance(id: string): ServiceInstance | undefined {
    return this.#instances.get(id);
  }

  instances(): ServiceInstance[] {
    return [...this.#instances.values()];
  }

  offerings(): Offering[] {
    return [...this.#offerings.values()];
  }

  plans(): Plan[] {
    return [...this.#plans.values()];
  }

  #offering(name: string): Offering {
    const existing = [...this.#offerings.values()].find((offering) => offering.name === name);
    if (existing !== undefined) return existing;
    const offering = { id: randomUUID(), name };
    this.#offerings.set(offering.id, offering);
    return offering;
  }

  #plan(offering: Offering, name: string): Plan {
    const existing = [...this.#plans.values()].find(
      (plan) => plan.offeringId === offering.id && plan.name === name,
    );
    if (existing !== undefined) return existing;
    const plan = { id: randomUUID(), name, offeringId: offering.id };
    this.#plans.set(plan.id, plan);
    return plan;
  }
}
