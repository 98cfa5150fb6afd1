package workflow

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Validate lists every problem of w: workflow-wide ones first, then by node id, then by edge id,
// each by field and code. A workflow with any error cannot be rendered or applied.
func Validate(w Workflow) []Error {
	w = w.sorted()
	v := &validator{w: &w, errs: slices.Clone(w.decodeErrs), decoded: map[string]bool{}}
	for _, e := range w.decodeErrs {
		v.decoded[e.NodeID+"\x00"+e.EdgeID+"\x00"+e.Field] = true
	}
	if w.Namespace != "" {
		if msgs := validation.IsDNS1123Label(w.Namespace); len(msgs) > 0 {
			v.errs = append(v.errs, Error{Field: "namespace", Code: CodeBadName, Message: strings.Join(msgs, "; ")})
		}
	}
	for _, n := range w.Nodes {
		v.node(n)
	}
	v.duplicates()
	v.edges()
	rank := func(e Error) int {
		switch {
		case e.NodeID != "":
			return 1
		case e.EdgeID != "":
			return 2
		}
		return 0
	}
	sort.SliceStable(v.errs, func(i, j int) bool {
		a, b := v.errs[i], v.errs[j]
		if rank(a) != rank(b) {
			return rank(a) < rank(b)
		}
		if a.NodeID != b.NodeID {
			return a.NodeID < b.NodeID
		}
		if a.EdgeID != b.EdgeID {
			return a.EdgeID < b.EdgeID
		}
		if a.Field != b.Field {
			return a.Field < b.Field
		}
		return a.Code < b.Code
	})
	return v.errs
}

type validator struct {
	w    *Workflow
	errs []Error
	// decoded marks node/edge fields that already have a decoding error, so a value that could
	// not be read is not also reported as missing.
	decoded map[string]bool
}

func (v *validator) nodeErr(n Node, field, code, format string, args ...any) {
	if v.decoded[clip(n.ID)+"\x00\x00"+field] {
		return
	}
	v.errs = append(v.errs, Error{NodeID: clip(n.ID), Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) edgeErr(e Edge, field, code, format string, args ...any) {
	if v.decoded["\x00"+clip(e.ID)+"\x00"+field] {
		return
	}
	v.errs = append(v.errs, Error{EdgeID: clip(e.ID), Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
}

// kinds lists the node kinds and whether they are workloads (run containers).
var kinds = map[string]bool{
	KindDeployment: true, KindStatefulSet: true, KindJob: true, KindCronJob: true,
	KindService: false, KindIngress: false, KindConfigMap: false, KindSecretRef: false, KindPVC: false,
}

// IsWorkload reports whether kind runs containers (and may have envFrom and mounts edges).
func IsWorkload(kind string) bool { return kinds[kind] }

func (v *validator) node(n Node) {
	if v.decoded[clip(n.ID)+"\x00\x00"] {
		return // not an object: nothing more to say
	}
	if n.ID == "" || len(validation.IsValidLabelValue(n.ID)) > 0 {
		v.nodeErr(n, "", CodeBadID, "a node id is a label value: at most %d letters, digits, '-', '_' or '.', starting and ending with a letter or digit", MaxIDBytes)
	}
	if _, ok := kinds[n.Kind]; !ok {
		if n.Kind == "" {
			v.nodeErr(n, "kind", CodeRequired, "a node needs a kind")
		} else {
			v.nodeErr(n, "kind", CodeUnknownKind, "unknown kind %q", clip(n.Kind))
		}
		return
	}
	v.name(n)
	if n.Namespace != "" {
		if msgs := validation.IsDNS1123Label(n.Namespace); len(msgs) > 0 {
			v.nodeErr(n, "namespace", CodeBadName, "%s", strings.Join(msgs, "; "))
		}
	}
	switch n.Kind {
	case KindDeployment, KindStatefulSet, KindJob, KindCronJob:
		v.workload(n)
	case KindService:
		v.port(n, "port", n.Port, true)
		if n.TargetPort != 0 {
			v.port(n, "targetPort", n.TargetPort, false)
		}
		if n.TargetPortName != "" {
			if msgs := validation.IsValidPortName(n.TargetPortName); len(msgs) > 0 {
				v.nodeErr(n, "targetPort", CodeBadValue, "%s", strings.Join(msgs, "; "))
			}
		}
		if !slices.Contains([]string{"", "ClusterIP", "NodePort", "LoadBalancer"}, n.Type) {
			v.nodeErr(n, "type", CodeBadValue, "type is ClusterIP, NodePort or LoadBalancer, not %q", clip(n.Type))
		}
	case KindIngress:
		if n.Host != "" {
			if msgs := validation.IsWildcardDNS1123Subdomain(n.Host); len(msgs) > 0 && len(validation.IsDNS1123Subdomain(n.Host)) > 0 {
				v.nodeErr(n, "host", CodeBadValue, "%s", strings.Join(validation.IsDNS1123Subdomain(n.Host), "; "))
			}
		}
		if n.Path != "" && (!strings.HasPrefix(n.Path, "/") || strings.ContainsAny(n.Path, " \t\n{}")) {
			v.nodeErr(n, "path", CodeBadValue, "a path starts with / and has no spaces or braces")
		}
	case KindConfigMap:
		size := 0
		for _, k := range sortedKeys(n.Data) {
			size += len(k) + len(n.Data[k])
			if msgs := validation.IsConfigMapKey(k); len(msgs) > 0 {
				v.nodeErr(n, "data."+clip(k), CodeBadValue, "%s", strings.Join(msgs, "; "))
			}
		}
		if size > MaxConfigMapBytes {
			v.nodeErr(n, "data", CodeTooMany, "%d bytes of data; a ConfigMap holds at most %d", size, MaxConfigMapBytes)
		}
	case KindSecretRef:
		if n.SecretName == "" {
			v.nodeErr(n, "secretName", CodeRequired, "the name of an existing Secret is required")
		} else if msgs := validation.IsDNS1123Subdomain(n.SecretName); len(msgs) > 0 {
			v.nodeErr(n, "secretName", CodeBadName, "%s", strings.Join(msgs, "; "))
		}
	case KindPVC:
		v.quantity(n, "size", n.Size, true)
		if n.StorageClassName != "" {
			if msgs := validation.IsDNS1123Subdomain(n.StorageClassName); len(msgs) > 0 {
				v.nodeErr(n, "storageClassName", CodeBadName, "%s", strings.Join(msgs, "; "))
			}
		}
	}
}

// name checks n's name: every name is a DNS-1123 label (it is also the pods' name label, at most
// 63 characters), a Service's a DNS-1035 label, a CronJob's at most 52 characters (its Jobs get an
// 11-character suffix).
func (v *validator) name(n Node) {
	if n.Name == "" {
		v.nodeErr(n, "name", CodeRequired, "a name is required")
		return
	}
	msgs := validation.IsDNS1123Label(n.Name)
	if n.Kind == KindService {
		msgs = validation.IsDNS1035Label(n.Name)
	}
	if n.Kind == KindCronJob && len(n.Name) > 52 {
		msgs = append(msgs, "must be no more than 52 characters")
	}
	if len(msgs) > 0 {
		v.nodeErr(n, "name", CodeBadName, "%s", strings.Join(msgs, "; "))
	}
}

func (v *validator) workload(n Node) {
	switch {
	case n.Image == "":
		v.nodeErr(n, "image", CodeRequired, "an image is required")
	case strings.ContainsAny(n.Image, " \t\r\n") || len(n.Image) > 4096:
		v.nodeErr(n, "image", CodeBadValue, "an image reference has no spaces")
	}
	if n.Replicas != nil && (*n.Replicas < 0 || *n.Replicas > 1000) {
		v.nodeErr(n, "replicas", CodeBadValue, "replicas is 0..1000, not %d", *n.Replicas)
	}
	seen := map[int]bool{}
	for i, p := range n.Ports {
		f := fmt.Sprintf("ports[%d]", i)
		v.port(n, f, p, false)
		if seen[p] {
			v.nodeErr(n, f, CodeBadValue, "port %d is listed twice", p)
		}
		seen[p] = true
	}
	for _, k := range sortedKeys(n.Env) {
		if msgs := validation.IsEnvVarName(k); len(msgs) > 0 {
			v.nodeErr(n, "env."+clip(k), CodeBadValue, "%s", strings.Join(msgs, "; "))
		}
	}
	v.quantity(n, "resources.cpu", n.Resources.CPU, false)
	v.quantity(n, "resources.memory", n.Resources.Memory, false)
	if n.Kind == KindCronJob {
		if n.Schedule == "" {
			v.nodeErr(n, "schedule", CodeRequired, "a schedule is required")
		} else if err := checkCron(n.Schedule); err != nil {
			v.nodeErr(n, "schedule", CodeBadValue, "%v", err)
		}
	}
}

func (v *validator) port(n Node, field string, p int, required bool) {
	switch {
	case p == 0 && required:
		v.nodeErr(n, field, CodeRequired, "a port is required")
	case p < 1 || p > 65535:
		v.nodeErr(n, field, CodeBadValue, "a port is 1..65535, not %d", p)
	}
}

func (v *validator) quantity(n Node, field, s string, required bool) {
	if s == "" {
		if required {
			v.nodeErr(n, field, CodeRequired, "a quantity is required (e.g. 1Gi)")
		}
		return
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		v.nodeErr(n, field, CodeBadValue, "%q is not a quantity (e.g. 500m, 256Mi, 1Gi)", clip(s))
		return
	}
	if q.Sign() <= 0 {
		v.nodeErr(n, field, CodeBadValue, "a quantity is positive")
	}
}

// duplicates reports nodes that would render the same object (SecretRefs render nothing).
func (v *validator) duplicates() {
	first := map[string]string{}
	for _, n := range v.w.Nodes {
		if n.Kind == KindSecretRef || n.Name == "" {
			continue
		}
		if _, ok := kinds[n.Kind]; !ok {
			continue
		}
		key := n.Kind + "/" + v.w.NamespaceOf(n) + "/" + n.Name
		if id, ok := first[key]; ok {
			v.nodeErr(n, "name", CodeDuplicate, "node %s is already the %s %s/%s", id, n.Kind, v.w.NamespaceOf(n), n.Name)
			continue
		}
		first[key] = n.ID
	}
}

// relations is the edge kinds' allowed ends.
var relations = map[string]struct{ from, to []string }{
	EdgeSelects: {[]string{KindService}, []string{KindDeployment, KindStatefulSet}},
	EdgeRoutes:  {[]string{KindIngress}, []string{KindService}},
	EdgeEnvFrom: {[]string{KindDeployment, KindStatefulSet, KindJob, KindCronJob}, []string{KindConfigMap, KindSecretRef}},
	EdgeMounts:  {[]string{KindDeployment, KindStatefulSet, KindJob, KindCronJob}, []string{KindPVC}},
}

func (v *validator) edges() {
	seen := map[string]string{}
	paths := map[string]string{} // workload id + mount path -> edge id
	out := map[string][]Edge{}   // node id + edge kind -> its valid outgoing edges
	for _, e := range v.w.Edges {
		if v.decoded["\x00"+clip(e.ID)+"\x00"] {
			continue
		}
		if e.ID == "" || len(e.ID) > 256 {
			v.edgeErr(e, "", CodeBadID, "an edge id is 1-256 bytes")
		}
		rel, ok := relations[e.Kind]
		if !ok {
			if e.Kind == "" {
				v.edgeErr(e, "kind", CodeRequired, "an edge needs a kind")
			} else {
				v.edgeErr(e, "kind", CodeUnknownKind, "unknown edge kind %q (selects, routes, envFrom, mounts)", clip(e.Kind))
			}
			continue
		}
		from, okf := v.w.Node(e.From)
		to, okt := v.w.Node(e.To)
		if !okf {
			v.edgeErr(e, "from", CodeDangling, "no node %q", clip(e.From))
		}
		if !okt {
			v.edgeErr(e, "to", CodeDangling, "no node %q", clip(e.To))
		}
		if !okf || !okt {
			continue
		}
		if e.From == e.To {
			v.edgeErr(e, "", CodeSelfEdge, "an edge joins two nodes")
			continue
		}
		if !slices.Contains(rel.from, from.Kind) || !slices.Contains(rel.to, to.Kind) {
			v.edgeErr(e, "kind", CodeBadEdge, "%s goes from %s to %s, not from %s to %s",
				e.Kind, strings.Join(rel.from, "/"), strings.Join(rel.to, "/"), clip(from.Kind), clip(to.Kind))
			continue
		}
		if v.w.NamespaceOf(from) != v.w.NamespaceOf(to) {
			v.edgeErr(e, "", CodeBadEdge, "%s joins nodes in namespaces %s and %s", e.Kind, v.w.NamespaceOf(from), v.w.NamespaceOf(to))
			continue
		}
		key := e.From + "\x00" + e.To + "\x00" + e.Kind
		if other, ok := seen[key]; ok {
			v.edgeErr(e, "", CodeDuplicateRel, "edge %s already relates these nodes", clip(other))
			continue
		}
		seen[key] = e.ID
		if e.Kind == EdgeMounts {
			p := mountPath(e)
			if !path.IsAbs(p) || path.Clean(p) != p || strings.ContainsAny(p, ":\n") {
				v.edgeErr(e, "path", CodeBadValue, "a mount path is a clean absolute path")
				continue
			}
			if other, ok := paths[e.From+"\x00"+p]; ok {
				v.edgeErr(e, "path", CodeBadValue, "edge %s already mounts at %s", clip(other), p)
				continue
			}
			paths[e.From+"\x00"+p] = e.ID
		}
		out[e.From+"\x00"+e.Kind] = append(out[e.From+"\x00"+e.Kind], e)
	}
	for _, n := range v.w.Nodes {
		switch n.Kind {
		case KindService:
			v.single(n, out[n.ID+"\x00"+EdgeSelects], EdgeSelects, "a Service selects one Deployment or StatefulSet")
			if es := out[n.ID+"\x00"+EdgeSelects]; len(es) > 0 {
				v.targetPort(n, es[0])
			}
		case KindIngress:
			v.single(n, out[n.ID+"\x00"+EdgeRoutes], EdgeRoutes, "an Ingress routes to one Service")
			if es := out[n.ID+"\x00"+EdgeRoutes]; len(es) > 0 {
				if svc, _ := v.w.Node(es[0].To); svc.Port < 1 || svc.Port > 65535 {
					v.edgeErr(es[0], "to", CodeNoSuchPort, "the Service %s has no port to route to", svc.Name)
				}
			}
		}
	}
}

func (v *validator) single(n Node, es []Edge, kind, msg string) {
	if len(es) == 0 {
		v.nodeErr(n, kind, CodeMissingEdge, "%s: draw a %s edge", msg, kind)
	}
	for _, e := range es[min(1, len(es)):] {
		v.edgeErr(e, "", CodeBadEdge, "%s; %s already does", msg, es[0].ID)
	}
}

// targetPort checks that the Service's numeric target is a port of the workload it selects.
func (v *validator) targetPort(svc Node, e Edge) {
	if svc.TargetPortName != "" {
		return // named ports are resolved by the cluster
	}
	field, p := "targetPort", svc.TargetPort
	if p == 0 {
		field, p = "port", svc.Port
	}
	if p < 1 || p > 65535 {
		return // already reported
	}
	wl, _ := v.w.Node(e.To)
	if !slices.Contains(wl.Ports, p) {
		v.nodeErr(svc, field, CodeNoSuchPort, "the %s %s does not expose port %d (ports: %v)", wl.Kind, wl.Name, p, wl.Ports)
	}
}

func mountPath(e Edge) string {
	if e.Path == "" {
		return DefaultMountPath
	}
	return e.Path
}

// sortedKeys is m's keys in order (what is rendered or reported comes out the same every time).
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
