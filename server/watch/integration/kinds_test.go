package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// A kind the user may not list (nodes, cluster-scoped, for carol) is reported on the stream
// while the kinds she may see keep streaming; only a request for nothing she may see is refused.
func TestRefusedKindDoesNotStopTheOthers(t *testing.T) {
	s := start(t, nil)
	carol := s.login(t, "carol")
	st := s.watch(t, carol, url.Values{"kinds": {"pods,nodes"}})
	ms := st.waitFor(t, "pods SYNCED", 30*time.Second, synced("pods"))
	if ms[0].Type != "error" || ms[0].Code != "forbidden" || ms[0].Kind != "nodes" || ms[0].Namespace != "" {
		t.Fatalf("want a forbidden error for nodes first: %s", summary(ms))
	}
	for _, m := range ms {
		if m.Kind == "nodes" && m.Type != "error" {
			t.Fatalf("carol got %s nodes: %s", m.Type, summary(ms))
		}
	}
	if got := namespacesOf(view(ms, "pods")); len(got) != 1 || got[0] != "demo" {
		t.Fatalf("carol sees pods in %v, want [demo]", got)
	}

	refused, err := s.dialWatch(carol, url.Values{"kinds": {"nodes,namespaces"}})
	if err != nil {
		t.Fatal(err)
	}
	defer refused.close()
	select {
	case <-refused.done:
	case <-time.After(10 * time.Second):
		t.Fatal("a watch of nothing carol may see was not closed")
	}
	if _, cerr := refused.all(); cerr == nil || !strings.Contains(cerr.Error(), "forbidden") {
		t.Fatalf("refusal: %v", cerr)
	}
}

// Objects from the watch snapshot, watch events and the REST list carry apiVersion and kind,
// for built-in kinds and custom resources alike.
func TestObjectsCarryAPIVersionAndKind(t *testing.T) {
	s := start(t, nil)
	alice := s.login(t, "alice")
	want := map[string][2]string{
		"deployments":             {"apps/v1", "Deployment"},
		"configmaps":              {"v1", "ConfigMap"},
		"databases.demo.yard.dev": {"demo.yard.dev/v1", "Database"},
	}
	q := url.Values{"kinds": {"deployments,configmaps,databases.demo.yard.dev"}, "namespaces": {"demo"}}
	u := "ws" + strings.TrimPrefix(s.base, "http") + "/ws/watch?" + q.Encode()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, u, http.Header{"Authorization": {"Bearer " + alice}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	synced := map[string]bool{}
	objects := map[string]int{}
	cms := admin(t, s).CoreV1().ConfigMaps("demo")
	created, patched := "", false
	for len(synced) < len(want) || objects["configmaps MODIFIED"] == 0 {
		_, b, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v (synced %v, objects %v)", err, synced, objects)
		}
		var m struct {
			Type, Kind string
			Object     *struct {
				APIVersion, Kind string
				Metadata         struct{ Name string }
			}
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m.Type == "SYNCED" {
			synced[m.Kind] = true
		}
		if m.Object != nil {
			if w := want[m.Kind]; m.Object.APIVersion != w[0] || m.Object.Kind != w[1] {
				t.Fatalf("%s %s: apiVersion %q kind %q, want %q %q", m.Type, m.Kind, m.Object.APIVersion, m.Object.Kind, w[0], w[1])
			}
			objects[m.Kind+" "+m.Type]++
		}
		if len(synced) == len(want) && created == "" {
			// Events after the snapshot: a configmap created, then changed.
			cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "typemeta-"}, Data: map[string]string{"a": "1"}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			created = cm.Name
			t.Cleanup(func() { _ = cms.Delete(context.Background(), cm.Name, metav1.DeleteOptions{}) })
		}
		// Changed only once its ADDED was sent: a change still pending when the next one comes
		// is coalesced with it, and ADDED then MODIFIED would reach the client as one ADDED.
		if m.Type == "ADDED" && m.Object != nil && m.Object.Metadata.Name == created && !patched {
			patched = true
			if _, err := cms.Patch(ctx, created, types.MergePatchType, []byte(`{"data":{"a":"2"}}`), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, k := range []string{"deployments ADDED", "databases.demo.yard.dev ADDED", "configmaps ADDED"} {
		if objects[k] == 0 {
			t.Errorf("no %s in %v", k, objects)
		}
	}

	for kind, w := range want {
		code, body := s.get(t, alice, "/api/resources/"+kind+"?namespace=demo", "")
		var l struct {
			Items []struct{ APIVersion, Kind string }
		}
		if err := json.Unmarshal(body, &l); code != http.StatusOK || err != nil || len(l.Items) == 0 {
			t.Fatalf("list %s: %d %v %.200s", kind, code, err, body)
		}
		for _, it := range l.Items {
			if it.APIVersion != w[0] || it.Kind != w[1] {
				t.Fatalf("list %s: item apiVersion %q kind %q, want %q %q", kind, it.APIVersion, it.Kind, w[0], w[1])
			}
		}
	}
}
