package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/yardhq/yard/server/deploy"
	"github.com/yardhq/yard/server/internal/testwait"
)

// BenchmarkFiftyNodes measures a 50-node workflow (10 web-apps, 5 workers): Yard's plan, then
// its apply until every node is ready in the document, in team-a; and, as the peer, the same
// rendered manifests applied with client-go's server-side apply (what kubectl apply
// --server-side sends: one PATCH per object) into default, waited on with the same readiness
// rule (deploy.Status). One round per run:
// go test -run '^$' -bench FiftyNodes -benchtime 1x ./server/deploy/integration
func BenchmarkFiftyNodes(b *testing.B) {
	a, _, cp := replicas(b)
	alice := a.SignIn(b, "alice", false)
	k, err := kubernetes.NewForConfig(cp.RESTConfig())
	if err != nil {
		b.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cp.RESTConfig())
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		room := unique("bench")
		for j := range 10 {
			template(b, a, alice, room, fmt.Sprintf("w%d-%s", j, room[len(room)-6:]))
		}
		for j := range 5 {
			if st := call(b, a, http.MethodPost, alice, "/api/rooms/"+room+"/workflow/templates/worker", fmt.Sprintf(`{"name":"k%d-%s","x":0,"y":0}`, j, room[len(room)-6:]), nil); st != http.StatusOK {
				b.Fatalf("worker template: %d", st)
			}
		}
		setNamespace(b, a, room, "team-a")

		start := time.Now()
		_, d := plan(b, a, alice, room, `{}`)
		planned := time.Since(start)
		if len(d.Nodes) != 50 {
			b.Fatalf("%d nodes", len(d.Nodes))
		}
		if got := applied(b, a, alice, room, d.ID); got.State != deploy.StateSucceeded {
			b.Fatalf("deploy %+v", got)
		}
		yard := time.Since(start)

		var objs []*unstructured.Unstructured
		if err := json.Unmarshal([]byte(d.Manifests), &objs); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		ctx := context.Background()
		for _, o := range objs {
			o.SetNamespace("default")
			body, err := json.Marshal(o.Object)
			if err != nil {
				b.Fatal(err)
			}
			force := true
			if _, err := dyn.Resource(gvrOf(b, o.GetKind())).Namespace("default").Patch(ctx, o.GetName(), types.ApplyPatchType, body,
				metav1.PatchOptions{FieldManager: "bench", Force: &force}); err != nil {
				b.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
			}
		}
		testwait.Until(b, 5*time.Minute, 250*time.Millisecond, "the peer's objects are ready", func() bool {
			for _, o := range objs {
				live, err := dyn.Resource(gvrOf(b, o.GetKind())).Namespace("default").Get(ctx, o.GetName(), metav1.GetOptions{})
				if err != nil {
					return false
				}
				var pods []corev1.Pod
				if o.GetKind() == "Deployment" {
					list, err := k.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "yard.dev/node=" + o.GetLabels()["yard.dev/node"]})
					if err != nil {
						return false
					}
					pods = list.Items
				}
				if deploy.Status(live, pods).Status != deploy.NodeReady {
					return false
				}
			}
			return true
		})
		peer := time.Since(start)
		b.ReportMetric(planned.Seconds(), "plan-s")
		b.ReportMetric(yard.Seconds(), "yard-plan+apply-to-ready-s")
		b.ReportMetric(peer.Seconds(), "clientgo-ssa-to-ready-s")
	}
}

func gvrOf(b testing.TB, kind string) schema.GroupVersionResource {
	switch kind {
	case "Deployment":
		return schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	case "Service":
		return schema.GroupVersionResource{Version: "v1", Resource: "services"}
	case "ConfigMap":
		return schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	case "Ingress":
		return schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}
	}
	b.Fatalf("kind %s", kind)
	return schema.GroupVersionResource{}
}
