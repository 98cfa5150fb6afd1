package workflow

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"
)

// Workflow is the typed "workflow" root of a room's document.
type Workflow struct {
	// Namespace is the default target namespace ("" means DefaultNamespace).
	Namespace string `json:"namespace,omitempty"`
	// Nodes and Edges are sorted by id.
	Nodes []Node `json:"nodes"`
	Edges []Edge `json:"edges"`

	// decodeErrs are what FromJSON could not read; Validate reports them first.
	decodeErrs []Error
}

// Node is one resource spec on the canvas. Which fields matter depends on Kind (docs/workflow.md);
// the others are ignored. Positions are not part of what deploys (Hash leaves them out).
type Node struct {
	ID        string  `json:"id"`
	Kind      string  `json:"kind"`
	Name      string  `json:"name"`
	Namespace string  `json:"namespace,omitempty"`
	X         float64 `json:"x"`
	Y         float64 `json:"y"`

	// Deployment, StatefulSet, Job, CronJob.
	Image     string            `json:"image,omitempty"`
	Replicas  *int              `json:"replicas,omitempty"` // Deployment, StatefulSet; nil: 1
	Ports     []int             `json:"ports,omitempty"`    // Deployment, StatefulSet
	Env       map[string]string `json:"env,omitempty"`
	Command   []string          `json:"command,omitempty"`
	Args      []string          `json:"args,omitempty"`
	Resources Resources         `json:"resources,omitzero"`
	Schedule  string            `json:"schedule,omitempty"` // CronJob

	// Service.
	Port           int    `json:"port,omitempty"`
	TargetPort     int    `json:"targetPort,omitempty"`     // 0: Port (or TargetPortName)
	TargetPortName string `json:"targetPortName,omitempty"` // a named targetPort
	Type           string `json:"type,omitempty"`           // ClusterIP (default), NodePort, LoadBalancer

	// Ingress.
	Host string `json:"host,omitempty"`
	Path string `json:"path,omitempty"` // default "/"

	// ConfigMap.
	Data map[string]string `json:"data,omitempty"`

	// SecretRef.
	SecretName string `json:"secretName,omitempty"`

	// PersistentVolumeClaim.
	Size             string `json:"size,omitempty"`
	StorageClassName string `json:"storageClassName,omitempty"`
}

// Resources are a container's requests.
type Resources struct {
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`
}

// Edge is one relation between two nodes.
type Edge struct {
	ID   string `json:"id"`
	From string `json:"from"`
	To   string `json:"to"`
	Kind string `json:"kind"`
	// Path is where a mounts edge mounts its claim ("" means DefaultMountPath).
	Path string `json:"path,omitempty"`
}

// Error is one problem of a workflow, attached to the node or edge (and field) it is about; a
// workflow-wide problem has neither.
type Error struct {
	NodeID  string `json:"nodeId,omitempty"`
	EdgeID  string `json:"edgeId,omitempty"`
	Field   string `json:"field,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e Error) Error() string {
	where := ""
	switch {
	case e.NodeID != "":
		where = "node " + e.NodeID + ": "
	case e.EdgeID != "":
		where = "edge " + e.EdgeID + ": "
	}
	if e.Field != "" {
		where += e.Field + ": "
	}
	return where + e.Message
}

// sorted returns w with its nodes and edges (copied) sorted by id, as FromJSON gives them; Node
// relies on it.
func (w Workflow) sorted() Workflow {
	w.Nodes = append([]Node(nil), w.Nodes...)
	w.Edges = append([]Edge(nil), w.Edges...)
	sort.SliceStable(w.Nodes, func(i, j int) bool { return w.Nodes[i].ID < w.Nodes[j].ID })
	sort.SliceStable(w.Edges, func(i, j int) bool { return w.Edges[i].ID < w.Edges[j].ID })
	return w
}

// Node returns the node with id (w's nodes sorted by id, as FromJSON gives them).
func (w *Workflow) Node(id string) (Node, bool) {
	i := sort.Search(len(w.Nodes), func(i int) bool { return w.Nodes[i].ID >= id })
	if i < len(w.Nodes) && w.Nodes[i].ID == id {
		return w.Nodes[i], true
	}
	return Node{}, false
}

// NamespaceOf is where n deploys: its own namespace, else the workflow's, else DefaultNamespace.
func (w *Workflow) NamespaceOf(n Node) string {
	switch {
	case n.Namespace != "":
		return n.Namespace
	case w.Namespace != "":
		return w.Namespace
	}
	return DefaultNamespace
}

// FromJSON reads the "workflow" root as the document's JSON gives it (GET /api/rooms/{room}/doc,
// room.Manager.JSON: nested Y.Maps are objects, Y.Arrays arrays). The input is untrusted: a value
// of the wrong type is left at its zero value and reported by Validate on its node and field;
// nothing here panics. A root with more than MaxNodes nodes or MaxEdges edges is read as empty
// with one too_many error, without looking at its entries.
func FromJSON(root map[string]any) Workflow {
	var w Workflow
	d := &decoder{}
	if v, ok := root["namespace"]; ok && v != nil {
		w.Namespace = d.str(v, "namespace")
	}
	nodes, _ := d.object(root["nodes"], "nodes")
	edges, _ := d.object(root["edges"], "edges")
	if len(nodes) > MaxNodes {
		d.add(Error{Code: CodeTooMany, Field: "nodes", Message: fmt.Sprintf("%d nodes; a workflow holds at most %d", len(nodes), MaxNodes)})
		nodes = nil
	}
	if len(edges) > MaxEdges {
		d.add(Error{Code: CodeTooMany, Field: "edges", Message: fmt.Sprintf("%d edges; a workflow holds at most %d", len(edges), MaxEdges)})
		edges = nil
	}
	for id, v := range nodes {
		w.Nodes = append(w.Nodes, d.node(id, v))
	}
	for id, v := range edges {
		w.Edges = append(w.Edges, d.edge(id, v))
	}
	w.decodeErrs = d.errs
	return w.sorted()
}

// decoder reads untrusted JSON values, recording what it could not read against the current node
// or edge.
type decoder struct {
	errs   []Error
	nodeID string
	edgeID string
}

func (d *decoder) add(e Error) {
	e.NodeID, e.EdgeID = clip(d.nodeID), clip(d.edgeID)
	d.errs = append(d.errs, e)
}

func (d *decoder) typeErr(field, want string, v any) {
	d.add(Error{Field: field, Code: CodeBadType, Message: fmt.Sprintf("want %s, got %s", want, jsonType(v))})
}

func (d *decoder) node(id string, v any) Node {
	d.nodeID, d.edgeID = id, ""
	n := Node{ID: id}
	m, ok := d.object(v, "")
	if !ok {
		return n
	}
	n.Kind = d.strField(m, "kind")
	n.Name = d.strField(m, "name")
	n.Namespace = d.strField(m, "namespace")
	n.X = d.numField(m, "x")
	n.Y = d.numField(m, "y")
	switch n.Kind {
	case KindDeployment, KindStatefulSet, KindJob, KindCronJob:
		n.Image = d.strField(m, "image")
		n.Env = d.strMap(m, "env")
		n.Command = d.strList(m, "command")
		n.Args = d.strList(m, "args")
		if r, ok := d.object(m["resources"], "resources"); ok {
			n.Resources.CPU = d.strField(r, "cpu")
			n.Resources.Memory = d.strField(r, "memory")
		}
		if n.Kind == KindCronJob {
			n.Schedule = d.strField(m, "schedule")
		}
		if n.Kind == KindDeployment || n.Kind == KindStatefulSet {
			if v, ok := m["replicas"]; ok && v != nil {
				if r, ok := d.int(v, "replicas"); ok {
					n.Replicas = &r
				}
			}
			n.Ports = d.intList(m, "ports")
		}
	case KindService:
		if v, ok := m["port"]; ok && v != nil {
			n.Port, _ = d.int(v, "port")
		}
		switch t := m["targetPort"].(type) {
		case nil:
		case string:
			if p, err := strconv.Atoi(t); err == nil {
				n.TargetPort = p
			} else {
				n.TargetPortName = d.str(t, "targetPort")
			}
		default:
			n.TargetPort, _ = d.int(t, "targetPort")
		}
		n.Type = d.strField(m, "type")
	case KindIngress:
		n.Host = d.strField(m, "host")
		n.Path = d.strField(m, "path")
	case KindConfigMap:
		n.Data = d.strMap(m, "data")
	case KindSecretRef:
		n.SecretName = d.strField(m, "secretName")
	case KindPVC:
		n.Size = d.strField(m, "size")
		n.StorageClassName = d.strField(m, "storageClassName")
	}
	return n
}

func (d *decoder) edge(id string, v any) Edge {
	d.nodeID, d.edgeID = "", id
	e := Edge{ID: id}
	m, ok := d.object(v, "")
	if !ok {
		return e
	}
	e.From = d.strField(m, "from")
	e.To = d.strField(m, "to")
	e.Kind = d.strField(m, "kind")
	e.Path = d.strField(m, "path")
	return e
}

// object reads a JSON object; a missing (nil) value is an empty one.
func (d *decoder) object(v any, field string) (map[string]any, bool) {
	switch t := v.(type) {
	case nil:
		return nil, false
	case map[string]any:
		return t, true
	}
	d.typeErr(field, "an object", v)
	return nil, false
}

func (d *decoder) strField(m map[string]any, key string) string {
	v, ok := m[key]
	if !ok || v == nil {
		return ""
	}
	return d.str(v, key)
}

func (d *decoder) str(v any, field string) string {
	s, ok := v.(string)
	if !ok {
		d.typeErr(field, "a string", v)
		return ""
	}
	if len(s) > MaxStringBytes {
		d.add(Error{Field: field, Code: CodeTooMany, Message: fmt.Sprintf("%d bytes; a value holds at most %d", len(s), MaxStringBytes)})
		return ""
	}
	return s
}

func (d *decoder) numField(m map[string]any, key string) float64 {
	v, ok := m[key]
	if !ok || v == nil {
		return 0
	}
	f, ok := number(v)
	if !ok {
		d.typeErr(key, "a number", v)
	}
	return f
}

// int reads an integral number.
func (d *decoder) int(v any, field string) (int, bool) {
	f, ok := number(v)
	if !ok {
		d.typeErr(field, "a number", v)
		return 0, false
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<31 {
		d.add(Error{Field: field, Code: CodeBadValue, Message: fmt.Sprintf("want a whole number, got %v", f)})
		return 0, false
	}
	return int(f), true
}

func (d *decoder) list(m map[string]any, key string) []any {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		d.typeErr(key, "an array", v)
		return nil
	}
	if len(l) > MaxListLen {
		d.add(Error{Field: key, Code: CodeTooMany, Message: fmt.Sprintf("%d entries; at most %d", len(l), MaxListLen)})
		return nil
	}
	return l
}

func (d *decoder) strList(m map[string]any, key string) []string {
	var out []string
	for i, v := range d.list(m, key) {
		out = append(out, d.str(v, fmt.Sprintf("%s[%d]", key, i)))
	}
	return out
}

func (d *decoder) intList(m map[string]any, key string) []int {
	var out []int
	for i, v := range d.list(m, key) {
		if n, ok := d.int(v, fmt.Sprintf("%s[%d]", key, i)); ok {
			out = append(out, n)
		}
	}
	return out
}

// strMap reads name -> value; numbers and booleans read as their JSON text (a compose file's
// PORT: 8080), since Kubernetes wants strings and the intent is plain.
func (d *decoder) strMap(m map[string]any, key string) map[string]string {
	obj, ok := d.object(m[key], key)
	if !ok {
		return nil
	}
	if len(obj) > MaxMapLen {
		d.add(Error{Field: key, Code: CodeTooMany, Message: fmt.Sprintf("%d entries; at most %d", len(obj), MaxMapLen)})
		return nil
	}
	if len(obj) == 0 {
		return nil // an empty map reads as no map: nodes are written with theirs from the start
	}
	out := make(map[string]string, len(obj))
	for k, v := range obj {
		field := key + "." + clip(k)
		switch t := v.(type) {
		case string:
			out[k] = d.str(t, field)
		case bool:
			out[k] = strconv.FormatBool(t)
		default:
			if f, ok := number(v); ok {
				out[k] = strconv.FormatFloat(f, 'f', -1, 64)
			} else {
				d.typeErr(field, "a string", v)
			}
		}
	}
	return out
}

// number reads the numbers a decoded document may hold.
func number(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, !math.IsNaN(t) && !math.IsInf(t, 0)
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	case json.Number:
		f, err := t.Float64()
		return f, err == nil
	}
	return 0, false
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	if _, ok := number(v); ok {
		return "a number"
	}
	return fmt.Sprintf("a %T", v)
}

// clip bounds an untrusted id or key quoted back in an error.
func clip(s string) string {
	if len(s) <= 100 {
		return s
	}
	i := 100
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
