package deploy

import (
	"encoding/json"
	"fmt"

	"github.com/yardhq/yard/crdt"
)

// Root is the document root holding the deploys: a Y.Map deploy id -> Y.Map.
const Root = "deploys"

// WorkflowRoot is the document root holding the workflow.
const WorkflowRoot = "workflow"

// Inside a deploy's Y.Map every field is a plain value, except nodes: a Y.Map node id -> Y.Map
// {status, message}, so status updates of different nodes never overwrite each other. plan,
// approvals and rejections are plain JSON arrays of objects: each is replaced whole by the
// server, and the browser reads them as they are.

// writeDeploy stores d under the deploys root, replacing its plain fields and its nodes.
func writeDeploy(doc *crdt.Doc, tx *crdt.Transaction, d *Deploy) error {
	root := doc.GetMap(Root)
	m, ok := childMap(root, d.ID)
	if !ok {
		m = root.SetMap(tx, d.ID)
	}
	fields, err := plainFields(d)
	if err != nil {
		return err
	}
	for k, v := range fields {
		if cur, ok := m.Get(k); ok && sameJSON(cur, v) {
			continue
		}
		if err := m.Set(tx, k, v); err != nil {
			return fmt.Errorf("deploy %s: %s: %w", d.ID, k, err)
		}
	}
	return writeNodes(m, tx, d.Nodes)
}

// writeNodes sets the statuses given, leaving other nodes alone.
func writeNodes(m *crdt.Map, tx *crdt.Transaction, nodes map[string]NodeStatus) error {
	nm, ok := childMap(m, "nodes")
	if !ok {
		nm = m.SetMap(tx, "nodes")
	}
	for id, st := range nodes {
		cur, ok := childMap(nm, id)
		if ok {
			s, _ := cur.Get("status")
			msg, _ := cur.Get("message")
			if s == st.Status && msg == st.Message {
				continue
			}
		} else {
			cur = nm.SetMap(tx, id)
		}
		if err := cur.Set(tx, "status", st.Status); err != nil {
			return err
		}
		if err := cur.Set(tx, "message", st.Message); err != nil {
			return err
		}
	}
	return nil
}

// plainFields is d's fields other than nodes as plain JSON values.
func plainFields(d *Deploy) (map[string]any, error) {
	c := *d
	c.Nodes = nil
	if c.Plan == nil {
		c.Plan = []PlanRow{}
	}
	if c.Approvals == nil {
		c.Approvals = []Approval{}
	}
	if c.Rejections == nil {
		c.Rejections = []Approval{}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	delete(out, "nodes")
	return out, nil
}

func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

func childMap(m *crdt.Map, key string) (*crdt.Map, bool) {
	v, ok := m.Get(key)
	if !ok {
		return nil, false
	}
	c, ok := v.(*crdt.Map)
	return c, ok
}

// readDeploy reads deploy id from the document; ok is false when there is none. Any client can
// edit the document, so what is read is checked like any input: a value of the wrong type
// reads as its zero value.
func readDeploy(doc *crdt.Doc, id string) (*Deploy, bool) {
	m, ok := childMap(doc.GetMap(Root), id)
	if !ok {
		return nil, false
	}
	return decodeDeploy(id, m.ToJSON()), true
}

// decodeDeploy reads one deploy's JSON leniently, field by field.
func decodeDeploy(id string, raw map[string]any) *Deploy {
	d := &Deploy{}
	for k, v := range raw {
		b, err := json.Marshal(v)
		if err != nil {
			continue
		}
		one, _ := json.Marshal(map[string]json.RawMessage{k: b})
		var tmp Deploy
		if json.Unmarshal(one, &tmp) == nil {
			_ = json.Unmarshal(one, d)
		}
	}
	d.ID = id
	return d
}

// listDeploys reads every deploy of the document.
func listDeploys(doc *crdt.Doc) []*Deploy {
	root := doc.GetMap(Root)
	var out []*Deploy
	for _, id := range root.Keys() {
		if d, ok := readDeploy(doc, id); ok {
			out = append(out, d)
		}
	}
	return out
}

// workflowJSON is the workflow root as JSON.
func workflowJSON(doc *crdt.Doc) map[string]any {
	return doc.GetMap(WorkflowRoot).ToJSON()
}
