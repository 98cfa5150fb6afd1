// Package workflow is the deployable workflow a room draws on its canvas: the schema of the
// document's "workflow" root (nodes are resource specs, edges are relations between them), its
// decoding from untrusted document JSON, validation with errors attached to node and edge ids,
// deterministic rendering to Kubernetes manifests, templates and docker-compose import that add
// nodes, and writing those nodes into a room's document. Everything here is pure except the HTTP
// handlers, which write through a room's document (docs/workflow.md).
package workflow

// Node kinds.
const (
	KindDeployment  = "Deployment"
	KindStatefulSet = "StatefulSet"
	KindService     = "Service"
	KindIngress     = "Ingress"
	KindConfigMap   = "ConfigMap"
	KindSecretRef   = "SecretRef" // a reference to an existing Secret; never rendered
	KindJob         = "Job"
	KindCronJob     = "CronJob"
	KindPVC         = "PersistentVolumeClaim"
)

// Edge kinds.
const (
	EdgeSelects = "selects" // Service -> Deployment | StatefulSet: the selector is the pods' labels
	EdgeRoutes  = "routes"  // Ingress -> Service
	EdgeEnvFrom = "envFrom" // workload -> ConfigMap | SecretRef
	EdgeMounts  = "mounts"  // workload -> PersistentVolumeClaim (mount path: the edge's "path")
)

// Labels on every rendered object (and on the pods of workloads).
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelName      = "app.kubernetes.io/name"
	LabelRoom      = "yard.dev/room"
	LabelNode      = "yard.dev/node"
	ManagedBy      = "yard"
)

// Bounds on what is decoded from a document. A workflow over them is one error, found before any
// node is read.
const (
	MaxNodes       = 1000
	MaxEdges       = 4000
	MaxIDBytes     = 63 // node ids are label values (yard.dev/node)
	MaxListLen     = 256
	MaxMapLen      = 1000
	MaxStringBytes = 64 << 10
	// MaxConfigMapBytes is Kubernetes's own limit on a ConfigMap's data.
	MaxConfigMapBytes = 1 << 20
)

// DefaultNamespace is the target when neither the node nor the workflow names one.
const DefaultNamespace = "default"

// DefaultMountPath is where a mounts edge without a path mounts its claim.
const DefaultMountPath = "/data"

// Validation codes (Error.Code).
const (
	CodeTooMany      = "too_many"       // nodes, edges or entries over their bound
	CodeBadType      = "bad_type"       // a value of the wrong JSON type
	CodeRequired     = "required"       // a required field is missing
	CodeBadID        = "bad_id"         // a node or edge id that cannot be a label value
	CodeBadName      = "bad_name"       // not a DNS-1123 (Service: DNS-1035) label
	CodeBadValue     = "bad_value"      // out of range, bad quantity, cron, env name, path
	CodeUnknownKind  = "unknown_kind"   // a node or edge kind this schema does not know
	CodeBadEdge      = "bad_edge"       // an edge between kinds (or namespaces) that cannot relate
	CodeDangling     = "dangling_edge"  // an edge end that is not a node
	CodeSelfEdge     = "self_edge"      // an edge from a node to itself
	CodeDuplicate    = "duplicate_name" // two nodes render the same kind/namespace/name
	CodeDuplicateRel = "duplicate_edge" // the same relation twice
	CodeMissingEdge  = "missing_edge"   // a Service without selects, an Ingress without routes
	CodeNoSuchPort   = "no_such_port"   // a targetPort the workload does not expose
)
