// Generated from server/workflow (go test ./server/workflow -run TestBrowserRelations -update); do not edit.
// The node kinds (true: a workload, running containers) and which node kinds each edge kind joins.

export const NODE_KINDS: Readonly<Record<string, boolean>> = {
  ConfigMap: false,
  CronJob: true,
  Deployment: true,
  Ingress: false,
  Job: true,
  PersistentVolumeClaim: false,
  SecretRef: false,
  Service: false,
  StatefulSet: true,
}

export const EDGE_KINDS: Readonly<Record<string, { from: readonly string[]; to: readonly string[] }>> = {
  envFrom: { from: ['Deployment', 'StatefulSet', 'Job', 'CronJob'], to: ['ConfigMap', 'SecretRef'] },
  mounts: { from: ['Deployment', 'StatefulSet', 'Job', 'CronJob'], to: ['PersistentVolumeClaim'] },
  routes: { from: ['Ingress'], to: ['Service'] },
  selects: { from: ['Service'], to: ['Deployment', 'StatefulSet'] },
}
