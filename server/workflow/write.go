package workflow

import (
	"fmt"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/server/errcode"
)

// Root is the document's root map holding the workflow.
const Root = "workflow"

// Insert writes nodes and edges into doc's workflow root in tx, creating "nodes" and "edges" when
// missing. Each node is a Y.Map of its fields; env, data and resources are nested Y.Maps (so two
// people edit different entries at once), ports, command and args plain JSON arrays (a list is
// edited as one value). Each edge is a Y.Map {from, to, kind[, path]}. It refuses (bad_state) a
// document whose nodes or edges are not Y.Maps, and (limit) an insert that would take the
// workflow over MaxNodes or MaxEdges; nothing is written then.
func Insert(doc *crdt.Doc, tx *crdt.Transaction, nodes []Node, edges []Edge) error {
	root := doc.GetMap(Root)
	nm, err := childMap(root, "nodes")
	if err != nil {
		return err
	}
	em, err := childMap(root, "edges")
	if err != nil {
		return err
	}
	if nm != nil && nm.Len()+len(nodes) > MaxNodes {
		return errcode.Errorf(errcode.Limit, "the workflow would have %d nodes; it holds at most %d", nm.Len()+len(nodes), MaxNodes)
	}
	if em != nil && em.Len()+len(edges) > MaxEdges {
		return errcode.Errorf(errcode.Limit, "the workflow would have %d edges; it holds at most %d", em.Len()+len(edges), MaxEdges)
	}
	if nm == nil {
		nm = root.SetMap(tx, "nodes")
	}
	if em == nil {
		em = root.SetMap(tx, "edges")
	}
	for _, n := range nodes {
		if err := writeNode(nm.SetMap(tx, n.ID), tx, n); err != nil {
			return fmt.Errorf("write node %s: %w", n.ID, err)
		}
	}
	for _, e := range edges {
		m := em.SetMap(tx, e.ID)
		fields := []kv{{"from", e.From}, {"to", e.To}, {"kind", e.Kind}}
		if e.Path != "" {
			fields = append(fields, kv{"path", e.Path})
		}
		if err := setAll(m, tx, fields); err != nil {
			return fmt.Errorf("write edge %s: %w", e.ID, err)
		}
	}
	return nil
}

// childMap returns root[key] when it is a Y.Map, nil when it is missing, and an error when it is
// anything else (replacing it would drop what clients wrote there).
func childMap(root *crdt.Map, key string) (*crdt.Map, error) {
	v, ok := root.Get(key)
	if !ok {
		return nil, nil
	}
	if m, ok := v.(*crdt.Map); ok {
		return m, nil
	}
	return nil, errcode.Errorf(errcode.BadState, "the document's workflow.%s is a %T, not a map", key, v)
}

type kv struct {
	k string
	v any
}

func setAll(m *crdt.Map, tx *crdt.Transaction, fields []kv) error {
	for _, f := range fields {
		if err := m.Set(tx, f.k, f.v); err != nil {
			return err
		}
	}
	return nil
}

// writeNode writes n's fields in a fixed order, leaving out empty ones.
func writeNode(m *crdt.Map, tx *crdt.Transaction, n Node) error {
	fields := []kv{{"kind", n.Kind}, {"name", n.Name}, {"x", n.X}, {"y", n.Y}}
	str := func(k, v string) {
		if v != "" {
			fields = append(fields, kv{k, v})
		}
	}
	num := func(k string, v int) {
		if v != 0 {
			fields = append(fields, kv{k, v})
		}
	}
	list := func(k string, v []string) {
		if len(v) > 0 {
			fields = append(fields, kv{k, strList(v)})
		}
	}
	str("namespace", n.Namespace)
	str("image", n.Image)
	if n.Replicas != nil {
		fields = append(fields, kv{"replicas", *n.Replicas})
	}
	if len(n.Ports) > 0 {
		ps := make([]any, len(n.Ports))
		for i, p := range n.Ports {
			ps[i] = p
		}
		fields = append(fields, kv{"ports", ps})
	}
	list("command", n.Command)
	list("args", n.Args)
	str("schedule", n.Schedule)
	num("port", n.Port)
	num("targetPort", n.TargetPort)
	str("targetPort", n.TargetPortName)
	str("type", n.Type)
	str("host", n.Host)
	str("path", n.Path)
	str("secretName", n.SecretName)
	str("size", n.Size)
	str("storageClassName", n.StorageClassName)
	if err := setAll(m, tx, fields); err != nil {
		return err
	}
	// A node's key/value maps exist from its creation, even empty: two people adding the first
	// entry at once would otherwise each create the map, and one map's entries would be lost.
	for _, sub := range []struct {
		key  string
		val  map[string]string
		used bool
	}{{"env", n.Env, IsWorkload(n.Kind)}, {"data", n.Data, n.Kind == KindConfigMap}, {"resources", resourcesMap(n.Resources), IsWorkload(n.Kind)}} {
		if len(sub.val) == 0 && !sub.used {
			continue
		}
		sm := m.SetMap(tx, sub.key)
		for _, k := range sortedKeys(sub.val) {
			if err := sm.Set(tx, k, sub.val[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

func resourcesMap(r Resources) map[string]string {
	m := map[string]string{}
	if r.CPU != "" {
		m["cpu"] = r.CPU
	}
	if r.Memory != "" {
		m["memory"] = r.Memory
	}
	return m
}
