import type { specSchema, statusSchema } from './schema.ts';
import type { FromSchema } from './schema-types.ts';

export type BTPCertificateSpec = FromSchema<typeof specSchema>;
export type BTPCertificateStatus = FromSchema<typeof statusSchema>;
export type Condition = NonNullable<BTPCertificateStatus['conditions']>[number];

export type ObjectMeta = {
  name: string;
  namespace: string;
  uid: string;
  generation: number;
  resourceVersion: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  finalizers?: string[];
};

export type BTPCertificate = {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: BTPCertificateSpec;
  status?: BTPCertificateStatus;
};
