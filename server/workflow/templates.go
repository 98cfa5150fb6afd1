package workflow

import (
	"crypto/rand"
	"encoding/hex"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/yardhq/yard/server/errcode"
)

// IDs returns a fresh node or edge id per call (a valid label value).
type IDs func() string

// RandomIDs returns 16 random hex digits per call.
func RandomIDs() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Template is one entry of the template palette.
type Template struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Kinds       []string `json:"kinds"`
}

// template builds a template's nodes (named after name, ids from ids) and edges.
type template struct {
	Template
	build func(name string, ids IDs) ([]Node, []Edge)
}

// spacing is the distance between a template's nodes on the canvas.
const spacing = 280

// MaxTemplateName is the longest name a template takes: a CronJob's limit, which also leaves room
// for the "-config" suffix of its ConfigMap.
const MaxTemplateName = 52

var templates = []template{
	{Template{"web-app", "A web server behind a Service and an Ingress, configured by a ConfigMap",
		[]string{KindDeployment, KindService, KindIngress, KindConfigMap}},
		func(name string, ids IDs) ([]Node, []Edge) {
			one := 1
			cfg := Node{ID: ids(), Kind: KindConfigMap, Name: name + "-config", Data: map[string]string{"LOG_LEVEL": "info"}}
			dep := Node{ID: ids(), Kind: KindDeployment, Name: name, Image: "nginx:1.27", Replicas: &one, Ports: []int{80},
				Resources: Resources{CPU: "100m", Memory: "128Mi"}}
			svc := Node{ID: ids(), Kind: KindService, Name: name, Port: 80, TargetPort: 80, Type: "ClusterIP"}
			ing := Node{ID: ids(), Kind: KindIngress, Name: name, Host: name + ".example.com", Path: "/"}
			return []Node{cfg, dep, svc, ing}, []Edge{
				{ID: ids(), Kind: EdgeEnvFrom, From: dep.ID, To: cfg.ID},
				{ID: ids(), Kind: EdgeSelects, From: svc.ID, To: dep.ID},
				{ID: ids(), Kind: EdgeRoutes, From: ing.ID, To: svc.ID},
			}
		}},
	{Template{"worker", "A background worker configured by a ConfigMap", []string{KindDeployment, KindConfigMap}},
		func(name string, ids IDs) ([]Node, []Edge) {
			one := 1
			cfg := Node{ID: ids(), Kind: KindConfigMap, Name: name + "-config", Data: map[string]string{"QUEUE": name}}
			dep := Node{ID: ids(), Kind: KindDeployment, Name: name, Image: "busybox:1.36", Replicas: &one,
				Command:   []string{"sh", "-c", "while true; do echo working on $QUEUE; sleep 30; done"},
				Resources: Resources{CPU: "50m", Memory: "64Mi"}}
			return []Node{cfg, dep}, []Edge{{ID: ids(), Kind: EdgeEnvFrom, From: dep.ID, To: cfg.ID}}
		}},
	{Template{"cron-job", "A job run on a schedule, configured by a ConfigMap", []string{KindCronJob, KindConfigMap}},
		func(name string, ids IDs) ([]Node, []Edge) {
			cfg := Node{ID: ids(), Kind: KindConfigMap, Name: name + "-config", Data: map[string]string{"TASK": name}}
			job := Node{ID: ids(), Kind: KindCronJob, Name: name, Image: "busybox:1.36", Schedule: "*/5 * * * *",
				Command: []string{"sh", "-c", "echo running $TASK; date"}}
			return []Node{cfg, job}, []Edge{{ID: ids(), Kind: EdgeEnvFrom, From: job.ID, To: cfg.ID}}
		}},
}

// Templates lists the templates.
func Templates() []Template {
	out := make([]Template, len(templates))
	for i, t := range templates {
		out[i] = t.Template
		out[i].Kinds = append([]string(nil), t.Kinds...)
	}
	return out
}

// Instantiate returns the nodes and edges of template tmpl named after name, laid out in a row
// from (x, y). ids gives every node and edge its id (nil: RandomIDs). An unknown template is a
// not_found error, a name that cannot name its objects a bad_params one.
func Instantiate(tmpl, name string, x, y float64, ids IDs) ([]Node, []Edge, error) {
	if ids == nil {
		ids = RandomIDs
	}
	for _, t := range templates {
		if t.Name != tmpl {
			continue
		}
		if err := checkName(name); err != nil {
			return nil, nil, err
		}
		nodes, edges := t.build(name, ids)
		for i := range nodes {
			nodes[i].X, nodes[i].Y = x+float64(i*spacing), y
		}
		return nodes, edges, nil
	}
	return nil, nil, errcode.Errorf(errcode.NotFound, "no template %q", clip(tmpl))
}

func checkName(name string) error {
	if msgs := validation.IsDNS1035Label(name); len(msgs) > 0 || len(name) > MaxTemplateName {
		return errcode.Errorf(errcode.BadParams, "name %q: lowercase letters, digits and '-', starting with a letter, at most %d characters", clip(name), MaxTemplateName)
	}
	return nil
}
