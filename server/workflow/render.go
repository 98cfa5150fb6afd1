package workflow

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// InvalidError is Render's answer for a workflow with validation errors.
type InvalidError struct{ Errors []Error }

func (e *InvalidError) Error() string {
	if len(e.Errors) == 1 {
		return "workflow invalid: " + e.Errors[0].Error()
	}
	return fmt.Sprintf("workflow invalid: %s (and %d more)", e.Errors[0].Error(), len(e.Errors)-1)
}

// applyOrder is the apply sequence (SecretRefs are checked, not applied); prunes come after all.
var applyOrder = map[string]int{
	KindConfigMap: 1, KindSecretRef: 2, KindPVC: 3,
	KindDeployment: 4, KindStatefulSet: 4, KindJob: 4, KindCronJob: 4,
	KindService: 5, KindIngress: 6,
}

// ApplyOrder is kind's place in the apply sequence: ConfigMaps, SecretRefs (checked), PVCs,
// workloads, Services, Ingresses. Unknown kinds come last.
func ApplyOrder(kind string) int {
	if o, ok := applyOrder[kind]; ok {
		return o
	}
	return 100
}

// Render validates w and renders its manifests for room, in apply order then namespace and name.
// The same workflow gives the same objects (and YAML bytes) whatever the order its maps were
// written in. Every object, and every workload's pods, carry the managed-by, room and node labels.
// A workflow with errors returns an *InvalidError.
func Render(room string, w Workflow) ([]*unstructured.Unstructured, error) {
	if room == "" || len(validation.IsValidLabelValue(room)) > 0 {
		return nil, fmt.Errorf("room %q cannot be a label value (at most 63 characters), so it cannot deploy", clip(room))
	}
	if errs := Validate(w); len(errs) > 0 {
		return nil, &InvalidError{Errors: errs}
	}
	w = w.sorted()
	r := renderer{room: room, w: &w, out: map[string][]Edge{}, in: map[string][]Edge{}}
	for _, e := range w.Edges {
		r.out[e.From] = append(r.out[e.From], e)
		r.in[e.To] = append(r.in[e.To], e)
	}
	var objs []*unstructured.Unstructured
	for _, n := range w.Nodes {
		if o := r.node(n); o != nil {
			objs = append(objs, &unstructured.Unstructured{Object: o})
		}
	}
	sort.Slice(objs, func(i, j int) bool {
		a, b := objs[i], objs[j]
		if oa, ob := ApplyOrder(a.GetKind()), ApplyOrder(b.GetKind()); oa != ob {
			return oa < ob
		}
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		if a.GetName() != b.GetName() {
			return a.GetName() < b.GetName()
		}
		return a.GetKind() < b.GetKind()
	})
	return objs, nil
}

// SecretReference is a Secret the workflow's workloads read (through a SecretRef node): the
// deploy checks that it exists, in apply order, since it is never rendered.
type SecretReference struct {
	NodeID    string `json:"nodeId"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// SecretReferences lists w's SecretRef nodes by namespace, name and node id.
func SecretReferences(w Workflow) []SecretReference {
	var out []SecretReference
	for _, n := range w.Nodes {
		if n.Kind == KindSecretRef {
			out = append(out, SecretReference{NodeID: n.ID, Namespace: w.NamespaceOf(n), Name: n.SecretName})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.NodeID < b.NodeID
	})
	return out
}

// RenderYAML is Render as one multi-document YAML stream (keys sorted).
func RenderYAML(room string, w Workflow) ([]byte, error) {
	objs, err := Render(room, w)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for _, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("render %s %s: %w", o.GetKind(), o.GetName(), err)
		}
		buf.WriteString("---\n")
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

// Hash is the sha256 (hex) of w's canonical JSON: nodes and edges by id, map keys sorted,
// positions left out (moving a node changes nothing that deploys). A deploy keeps the hash of
// the workflow it planned and compares it before applying.
func Hash(w Workflow) string {
	c := w.sorted()
	for i := range c.Nodes {
		c.Nodes[i].X, c.Nodes[i].Y = 0, 0
	}
	b, err := json.Marshal(Workflow{Namespace: c.Namespace, Nodes: c.Nodes, Edges: c.Edges})
	if err != nil {
		panic(fmt.Sprintf("workflow: canonical JSON: %v", err)) // plain strings, ints and maps only
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

type obj = map[string]any

type renderer struct {
	room    string
	w       *Workflow
	out, in map[string][]Edge
}

func (r *renderer) node(n Node) obj {
	switch n.Kind {
	case KindDeployment:
		return r.object("apps/v1", n, obj{
			"replicas": replicas(n), "selector": obj{"matchLabels": selector(n)}, "template": r.pod(n, ""),
		})
	case KindStatefulSet:
		return r.object("apps/v1", n, obj{
			"replicas": replicas(n), "selector": obj{"matchLabels": selector(n)}, "template": r.pod(n, ""),
			"serviceName": r.governingService(n),
		})
	case KindJob:
		return r.object("batch/v1", n, obj{"template": r.pod(n, "Never")})
	case KindCronJob:
		return r.object("batch/v1", n, obj{
			"schedule":    n.Schedule,
			"jobTemplate": obj{"metadata": obj{"labels": r.labels(n)}, "spec": obj{"template": r.pod(n, "Never")}},
		})
	case KindService:
		sel, _ := r.target(n, EdgeSelects)
		port := obj{"port": int64(n.Port), "protocol": "TCP", "targetPort": int64(n.Port)}
		if n.TargetPort != 0 {
			port["targetPort"] = int64(n.TargetPort)
		} else if n.TargetPortName != "" {
			port["targetPort"] = n.TargetPortName
		}
		return r.object("v1", n, obj{"type": or(n.Type, "ClusterIP"), "selector": selector(sel), "ports": []any{port}})
	case KindIngress:
		svc, _ := r.target(n, EdgeRoutes)
		rule := obj{"http": obj{"paths": []any{obj{
			"path": or(n.Path, "/"), "pathType": "Prefix",
			"backend": obj{"service": obj{"name": svc.Name, "port": obj{"number": int64(svc.Port)}}},
		}}}}
		if n.Host != "" {
			rule["host"] = n.Host
		}
		return r.object("networking.k8s.io/v1", n, obj{"rules": []any{rule}})
	case KindConfigMap:
		o := r.object("v1", n, nil)
		if len(n.Data) > 0 {
			data := obj{}
			for k, v := range n.Data {
				data[k] = v
			}
			o["data"] = data
		}
		return o
	case KindPVC:
		spec := obj{"accessModes": []any{"ReadWriteOnce"}, "resources": obj{"requests": obj{"storage": n.Size}}}
		if n.StorageClassName != "" {
			spec["storageClassName"] = n.StorageClassName
		}
		return r.object("v1", n, spec)
	}
	return nil // SecretRef: the Secret exists already and is only referenced
}

func (r *renderer) object(apiVersion string, n Node, spec obj) obj {
	o := obj{
		"apiVersion": apiVersion,
		"kind":       n.Kind,
		"metadata":   obj{"name": n.Name, "namespace": r.w.NamespaceOf(n), "labels": r.labels(n)},
	}
	if spec != nil {
		o["spec"] = spec
	}
	return o
}

func (r *renderer) labels(n Node) obj {
	return obj{LabelManagedBy: ManagedBy, LabelRoom: r.room, LabelNode: n.ID, LabelName: n.Name}
}

// selector is what a workload's pods are selected by: their name and node labels.
func selector(n Node) obj { return obj{LabelName: n.Name, LabelNode: n.ID} }

func replicas(n Node) int64 {
	if n.Replicas == nil {
		return 1
	}
	return int64(*n.Replicas)
}

// target is the node n's one edge of kind leads to (validation made sure there is one).
func (r *renderer) target(n Node, kind string) (Node, bool) {
	for _, e := range r.out[n.ID] {
		if e.Kind == kind {
			return r.w.Node(e.To)
		}
	}
	return Node{}, false
}

// governingService is a StatefulSet's serviceName: the first Service (by name) selecting it, else
// its own name.
func (r *renderer) governingService(n Node) string {
	var names []string
	for _, e := range r.in[n.ID] {
		if e.Kind == EdgeSelects {
			if s, ok := r.w.Node(e.From); ok {
				names = append(names, s.Name)
			}
		}
	}
	if len(names) == 0 {
		return n.Name
	}
	sort.Strings(names)
	return names[0]
}

// pod renders a workload's pod template: one container named after the workload, its env sorted
// by name, envFrom and volumes from its edges sorted by target.
func (r *renderer) pod(n Node, restart string) obj {
	c := obj{"name": n.Name, "image": n.Image}
	if len(n.Command) > 0 {
		c["command"] = strList(n.Command)
	}
	if len(n.Args) > 0 {
		c["args"] = strList(n.Args)
	}
	if len(n.Ports) > 0 {
		var ps []any
		for _, p := range n.Ports {
			ps = append(ps, obj{"containerPort": int64(p), "protocol": "TCP"})
		}
		c["ports"] = ps
	}
	if len(n.Env) > 0 {
		var env []any
		for _, k := range sortedKeys(n.Env) {
			env = append(env, obj{"name": k, "value": n.Env[k]})
		}
		c["env"] = env
	}
	req := obj{}
	if n.Resources.CPU != "" {
		req["cpu"] = n.Resources.CPU
	}
	if n.Resources.Memory != "" {
		req["memory"] = n.Resources.Memory
	}
	if len(req) > 0 {
		c["resources"] = obj{"requests": req}
	}
	type ref struct {
		key string
		val obj
	}
	var envFrom, mounts, volumes []ref
	for _, e := range r.out[n.ID] {
		t, _ := r.w.Node(e.To)
		switch {
		case e.Kind == EdgeEnvFrom && t.Kind == KindConfigMap:
			envFrom = append(envFrom, ref{"0" + t.Name, obj{"configMapRef": obj{"name": t.Name}}})
		case e.Kind == EdgeEnvFrom && t.Kind == KindSecretRef:
			envFrom = append(envFrom, ref{"1" + t.SecretName, obj{"secretRef": obj{"name": t.SecretName}}})
		case e.Kind == EdgeMounts:
			mounts = append(mounts, ref{mountPath(e), obj{"name": t.Name, "mountPath": mountPath(e)}})
			volumes = append(volumes, ref{t.Name, obj{"name": t.Name, "persistentVolumeClaim": obj{"claimName": t.Name}}})
		}
	}
	sorted := func(rs []ref) []any {
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].key < rs[j].key })
		out := make([]any, len(rs))
		for i, x := range rs {
			out[i] = x.val
		}
		return out
	}
	if len(envFrom) > 0 {
		c["envFrom"] = sorted(envFrom)
	}
	if len(mounts) > 0 {
		c["volumeMounts"] = sorted(mounts)
	}
	spec := obj{"containers": []any{c}}
	if len(volumes) > 0 {
		spec["volumes"] = sorted(volumes)
	}
	if restart != "" {
		spec["restartPolicy"] = restart
	}
	labels := r.labels(n)
	return obj{"metadata": obj{"labels": labels}, "spec": spec}
}

func strList(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func or(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
