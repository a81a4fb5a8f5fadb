// kstatus (sigs.k8s.io/cli-utils/pkg/kstatus), the status Flux's health checks and `flux`/`kpt`
// waits compute, for a custom resource, written from its documented rules (not its code):
//   1. metadata.deletionTimestamp set: Terminating.
//   2. status.observedGeneration present and not metadata.generation: InProgress (the controller
//      has not seen the latest spec). Absent: not checked.
//   3. a Reconciling condition with status True: InProgress; a Stalled condition with status True:
//      Failed (the first of the two in the list wins).
//   4. otherwise Current. The Ready condition plays no part in kstatus itself.

export type KStatus = 'InProgress' | 'Failed' | 'Current' | 'Terminating';

type Resource = {
  readonly metadata: { readonly generation?: number; readonly deletionTimestamp?: unknown };
  readonly status?: {
    readonly observedGeneration?: number;
    readonly conditions?: readonly { readonly type: string; readonly status: string }[];
  };
};

export function kstatus(resource: Resource): KStatus {
  if (resource.metadata.deletionTimestamp !== undefined) return 'Terminating';
  const observed = resource.status?.observedGeneration;
  if (observed !== undefined && observed !== resource.metadata.generation) return 'InProgress';
  for (const c of resource.status?.conditions ?? []) {
    if (c.type === 'Reconciling' && c.status === 'True') return 'InProgress';
    if (c.type === 'Stalled' && c.status === 'True') return 'Failed';
  }
  return 'Current';
}
