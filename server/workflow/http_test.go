package workflow_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/crdt/yprotocol"
	"github.com/yardhq/yard/server/config"
	"github.com/yardhq/yard/server/internal/yardtest"
	"github.com/yardhq/yard/server/workflow"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncClient is a y-websocket client on /ws/sync/{room} keeping its own copy of the document.
type syncClient struct {
	mu  sync.Mutex
	doc *crdt.Doc
	rec *yardtest.Recorder[string]
}

func dialSync(t *testing.T, s *yardtest.Server, token, room string) *syncClient {
	t.Helper()
	conn, _, err := s.DialWS("/ws/sync/"+room, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &syncClient{doc: crdt.NewDocWithClientID(77)}
	c.rec = yardtest.NewRecorder(conn, func(_ int, b []byte) string {
		m, _, err := yprotocol.DecodeMessage(b)
		if err != nil || m.Type != yprotocol.MessageSync {
			return "other"
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, err := yprotocol.HandleSync(c.doc, m); err != nil {
			return "error: " + err.Error()
		}
		return "sync"
	})
	if err := conn.WriteMessage(websocket.BinaryMessage, yprotocol.SyncStep1For(c.doc)); err != nil {
		t.Fatal(err)
	}
	c.rec.Start()
	t.Cleanup(c.rec.Close)
	return c
}

// workflow reads the client's copy of the workflow.
func (c *syncClient) workflow() workflow.Workflow {
	c.mu.Lock()
	defer c.mu.Unlock()
	root, _ := c.doc.RootJSON()[workflow.Root].(map[string]any)
	return workflow.FromJSON(root)
}

func (c *syncClient) waitNodes(t *testing.T, n int) workflow.Workflow {
	t.Helper()
	var w workflow.Workflow
	c.rec.Wait(t, fmt.Sprintf("%d workflow nodes", n), 15*time.Second, func([]string) bool {
		w = c.workflow()
		return len(w.Nodes) == n
	}, func(ms []string) string {
		return fmt.Sprintf("%d messages, %d nodes", len(ms), len(c.workflow().Nodes))
	})
	return w
}

func post(t *testing.T, s *yardtest.Server, token, path, contentType, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func errCode(b []byte) string {
	var e struct{ Error struct{ Code string } }
	_ = json.Unmarshal(b, &e)
	return e.Error.Code
}

// startServer runs the whole server without a cluster; readOnly users may not write to rooms.
func startServer(t *testing.T, readOnly ...string) *yardtest.Server {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	return yardtest.Start(t, func(c *config.Config) {
		c.Kubeconfig = ""
		c.StaticDir = filepath.Join(t.TempDir(), "none")
		c.Streams.RecordingsDir = "off"
		c.Rooms.ReadOnly = readOnly
	})
}

func TestTemplatesAndComposeImportReachSyncClients(t *testing.T) {
	s := startServer(t, "viewer")
	alice := s.SignIn(t, "alice", false)
	viewer := s.SignIn(t, "viewer", false)

	resp, body := s.Request(t, http.MethodGet, alice, "/api/workflow/templates", nil)
	var list struct{ Templates []workflow.Template }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list.Templates) < 3 {
		t.Fatalf("templates: %d %s", resp.StatusCode, body)
	}

	bob := dialSync(t, s, s.SignIn(t, "bob", false), "shop")

	code, body := post(t, s, alice, "/api/rooms/shop/workflow/templates/web-app", "application/json", `{"name":"store","x":100,"y":200}`)
	if code != http.StatusOK {
		t.Fatalf("insert web-app: %d %s", code, body)
	}
	var ins struct {
		Nodes []workflow.Node
		Edges []workflow.Edge
	}
	if err := json.Unmarshal(body, &ins); err != nil || len(ins.Nodes) != 4 || len(ins.Edges) != 3 {
		t.Fatalf("insert answer: %s", body)
	}
	w := bob.waitNodes(t, 4)
	if errs := workflow.Validate(w); len(errs) > 0 {
		t.Fatalf("the inserted template does not validate: %v", errs)
	}
	if n, ok := w.Node(ins.Nodes[1].ID); !ok || n.Kind != workflow.KindDeployment || n.Name != "store" || n.X != 100+280 || n.Y != 200 {
		t.Fatalf("the Deployment as bob sees it: %+v", n)
	}

	compose, err := os.ReadFile(filepath.Join("testdata", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	code, body = post(t, s, alice, "/api/rooms/shop/workflow/import-compose?x=0&y=600", "application/yaml", string(compose))
	var imp workflow.Import
	if code != http.StatusOK || json.Unmarshal(body, &imp) != nil || len(imp.Nodes) != 6 || len(imp.Unmapped) == 0 {
		t.Fatalf("import: %d %s", code, body)
	}
	w = bob.waitNodes(t, 10)
	if errs := workflow.Validate(w); len(errs) > 0 {
		t.Fatalf("after the import: %v", errs)
	}

	// The document as the REST API gives it reads the same workflow.
	resp, body = s.Request(t, http.MethodGet, alice, "/api/rooms/shop/doc", nil)
	var doc map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &doc) != nil {
		t.Fatalf("doc: %d %s", resp.StatusCode, body)
	}
	root, _ := doc[workflow.Root].(map[string]any)
	if got := workflow.FromJSON(root); workflow.Hash(got) != workflow.Hash(w) {
		t.Fatal("GET /doc and the sync client read different workflows")
	}

	for _, c := range []struct {
		who, path, ctype, body string
		status                 int
		code                   string
	}{
		{viewer, "/api/rooms/shop/workflow/templates/worker", "application/json", `{"name":"w"}`, 403, "forbidden"},
		{viewer, "/api/rooms/shop/workflow/import-compose", "application/yaml", string(compose), 403, "forbidden"},
		{alice, "/api/rooms/shop/workflow/templates/nope", "application/json", `{"name":"w"}`, 404, "not_found"},
		{alice, "/api/rooms/shop/workflow/templates/worker", "application/json", `{"name":"Bad_Name"}`, 400, "bad_params"},
		{alice, "/api/rooms/shop/workflow/import-compose", "application/yaml", "services: [", 400, "bad_params"},
		{alice, "/api/rooms/shop/workflow/import-compose?x=abc", "application/yaml", string(compose), 400, "bad_params"},
		{alice, "/api/rooms/shop/workflow/import-compose", "application/yaml", strings.Repeat("#", workflow.MaxComposeBytes+1), 413, "too_large"},
		{alice, "/api/rooms/bad%7Broom/workflow/templates/worker", "application/json", `{"name":"w"}`, 400, "bad_params"},
	} {
		code, body := post(t, s, c.who, c.path, c.ctype, c.body)
		if code != c.status || errCode(body) != c.code {
			t.Errorf("POST %s: %d %s, want %d %s", c.path, code, body, c.status, c.code)
		}
	}
	if n := len(bob.workflow().Nodes); n != 10 {
		t.Fatalf("refused requests changed the workflow: %d nodes", n)
	}
}

func TestValidationAnswersTheServersRules(t *testing.T) {
	s := startServer(t)
	alice := s.SignIn(t, "alice", false)
	bob := dialSync(t, s, s.SignIn(t, "bob", false), "lint")

	validation := func() (errs []workflow.Error, hash string) {
		t.Helper()
		resp, body := s.Request(t, http.MethodGet, alice, "/api/rooms/lint/workflow/validation", nil)
		var v struct {
			Errors []workflow.Error
			Hash   string
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &v) != nil || v.Errors == nil {
			t.Fatalf("validation: %d %s", resp.StatusCode, body)
		}
		return v.Errors, v.Hash
	}
	if errs, hash := validation(); len(errs) != 0 || hash != workflow.Hash(workflow.Workflow{}) {
		t.Fatalf("an empty room: %v %s", errs, hash)
	}

	if code, body := post(t, s, alice, "/api/rooms/lint/workflow/templates/worker", "application/json", `{"name":"jobs"}`); code != http.StatusOK {
		t.Fatalf("insert: %d %s", code, body)
	}
	w := bob.waitNodes(t, 2)
	if errs, hash := validation(); len(errs) != 0 || hash != workflow.Hash(w) {
		t.Fatalf("one valid template: %v, hash %s want %s", errs, hash, workflow.Hash(w))
	}

	// The same template under the same name again: every node's name is taken twice.
	if code, body := post(t, s, alice, "/api/rooms/lint/workflow/templates/worker", "application/json", `{"name":"jobs"}`); code != http.StatusOK {
		t.Fatalf("insert: %d %s", code, body)
	}
	w = bob.waitNodes(t, 4)
	errs, _ := validation()
	dup := map[string]bool{}
	for _, e := range errs {
		if e.Code == workflow.CodeDuplicate && e.NodeID != "" {
			dup[e.NodeID] = true
		}
	}
	if len(dup) < 2 {
		t.Fatalf("two templates named alike: %v", errs)
	}
	if want := workflow.Validate(w); len(want) != len(errs) {
		t.Fatalf("the endpoint's errors %v differ from Validate's %v", errs, want)
	}

	resp, body := s.Request(t, http.MethodGet, alice, "/api/rooms/bad%7Broom/workflow/validation", nil)
	if resp.StatusCode != http.StatusBadRequest || errCode(body) != "bad_params" {
		t.Fatalf("bad room id: %d %s", resp.StatusCode, body)
	}
}
