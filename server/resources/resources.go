// Package resources is the REST view of the clusters: which clusters there are and how they
// are, what the user may do, and objects listed or fetched as the user. Every cluster call made
// here impersonates the user, so Kubernetes RBAC decides and its refusals reach the client as
// 403 with the apiserver's reason.
package resources

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/yardhq/yard/server/errcode"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/yardhq/yard/server/cluster"
	"github.com/yardhq/yard/server/httpjson"
	"github.com/yardhq/yard/server/identity"
)

// HealthSource reports the clusters' health (the background monitor).
type HealthSource interface {
	Health() []cluster.Health
}

// API serves /api/clusters, /api/access, /api/resources/{kind} and /api/resource/{kind}/{name}.
type API struct {
	clusters     *cluster.Set
	health       HealthSource
	writeEnabled bool
	log          *slog.Logger
}

// New returns the API over clusters. writeEnabled is reported by /api/access: with it off, the
// UI disables writes whatever RBAC allows.
func New(clusters *cluster.Set, health HealthSource, writeEnabled bool, log *slog.Logger) *API {
	return &API{clusters: clusters, health: health, writeEnabled: writeEnabled, log: log}
}

// Mount adds the routes to the authenticated /api router (it implements httpapi.Mounter).
func (a *API) Mount(r chi.Router) {
	r.Get("/clusters", a.listClusters)
	r.Get("/access", a.access)
	r.Get("/resources/{kind}", a.list)
	r.Get("/resource/{kind}/{name}", a.get)
}

func (a *API) listClusters(w http.ResponseWriter, _ *http.Request) {
	hs := a.health.Health()
	if hs == nil {
		hs = []cluster.Health{}
	}
	httpjson.WriteJSON(w, http.StatusOK, map[string]any{"clusters": hs})
}

// target is the cluster, kind and namespace a request names, checked.
type target struct {
	user      identity.User
	cluster   *cluster.Cluster
	res       cluster.Resource
	namespace string
}

func (a *API) target(w http.ResponseWriter, r *http.Request, kind string) (target, bool) {
	u, _ := identity.FromContext(r.Context())
	q := r.URL.Query()
	c, err := a.clusters.Get(q.Get("cluster"))
	if err != nil {
		httpjson.WriteError(w, http.StatusNotFound, "not_found", err.Error())
		return target{}, false
	}
	t := target{user: u, cluster: c, namespace: q.Get("namespace")}
	if t.namespace != "" && len(validation.IsDNS1123Label(t.namespace)) > 0 {
		httpjson.WriteError(w, http.StatusBadRequest, errcode.BadParams, "namespace: not a namespace name")
		return target{}, false
	}
	if kind != "" {
		t.res, err = c.Resolve(kind)
		if errors.Is(err, cluster.ErrUnknownKind) {
			httpjson.WriteError(w, http.StatusNotFound, "unknown_kind", err.Error())
			return target{}, false
		}
		if err != nil {
			httpjson.WriteError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
			return target{}, false
		}
		if !t.res.Namespaced {
			t.namespace = ""
		}
	}
	return t, true
}

func (t target) client() (*cluster.UserClients, error) { return t.cluster.Clients(t.user) }

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	t, ok := a.target(w, r, chi.URLParam(r, "kind"))
	if !ok {
		return
	}
	q := r.URL.Query()
	opts := metav1.ListOptions{LabelSelector: q.Get("labelSelector"), Continue: q.Get("continue")}
	if _, err := labels.Parse(opts.LabelSelector); err != nil {
		httpjson.WriteError(w, http.StatusBadRequest, errcode.BadParams, "labelSelector: "+err.Error())
		return
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 || n > 5000 {
			httpjson.WriteError(w, http.StatusBadRequest, errcode.BadParams, "limit: 1 to 5000")
			return
		}
		opts.Limit = n
	}
	uc, err := t.client()
	if err != nil {
		a.apiError(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	l, err := uc.Dynamic.Resource(t.res.GVR).Namespace(t.namespace).List(ctx, opts)
	if err != nil {
		a.apiError(w, err)
		return
	}
	apiVersion := t.res.GVR.GroupVersion().String()
	for i := range l.Items {
		it := &l.Items[i]
		unstructured.RemoveNestedField(it.Object, "metadata", "managedFields")
		// Items of a built-in list come without apiVersion and kind; the client wants whole objects.
		if it.GetAPIVersion() == "" {
			it.SetAPIVersion(apiVersion)
		}
		if it.GetKind() == "" && t.res.Kind != "" {
			it.SetKind(t.res.Kind)
		}
	}
	b, err := l.MarshalJSON()
	if err != nil {
		a.apiError(w, err)
		return
	}
	writeObject(w, r, b)
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	t, ok := a.target(w, r, chi.URLParam(r, "kind"))
	if !ok {
		return
	}
	name := chi.URLParam(r, "name")
	if name == "" || len(name) > 253 || name == "." || name == ".." || strings.ContainsAny(name, "/%") {
		httpjson.WriteError(w, http.StatusBadRequest, errcode.BadParams, "name: not an object name")
		return
	}
	if t.res.Namespaced && t.namespace == "" {
		httpjson.WriteError(w, http.StatusBadRequest, errcode.BadParams, "namespace: required for "+t.res.Name)
		return
	}
	reveal := r.URL.Query().Get("reveal") == "true"
	if reveal && t.res.Name != "secrets" {
		httpjson.WriteError(w, http.StatusBadRequest, errcode.BadParams, "reveal: only for secrets")
		return
	}
	uc, err := t.client()
	if err != nil {
		a.apiError(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	// The get itself is made as the user: it succeeds only when the user may get this secret,
	// which is exactly the permission revealing needs.
	obj, err := uc.Dynamic.Resource(t.res.GVR).Namespace(t.namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		a.apiError(w, err)
		return
	}
	unstructured.RemoveNestedField(obj.Object, "metadata", "managedFields")
	if reveal {
		revealSecret(obj.Object)
	}
	b, err := json.Marshal(obj.Object)
	if err != nil {
		a.apiError(w, err)
		return
	}
	writeObject(w, r, b)
}

// revealSecret moves the base64 values of data into stringData as text. Values that are not
// UTF-8 text stay encoded in data.
func revealSecret(obj map[string]any) {
	data, _ := obj["data"].(map[string]any)
	if len(data) == 0 {
		return
	}
	plain := map[string]any{}
	for k, v := range data {
		s, _ := v.(string)
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || !utf8.Valid(b) {
			continue
		}
		plain[k] = string(b)
		delete(data, k)
	}
	obj["stringData"] = plain
	if len(data) == 0 {
		delete(obj, "data")
	}
}

// writeObject answers with JSON, or YAML when the client prefers it.
func writeObject(w http.ResponseWriter, r *http.Request, jsonBody []byte) {
	w.Header().Set("Cache-Control", "no-store")
	if wantsYAML(r.Header.Get("Accept")) {
		y, err := yaml.JSONToYAML(jsonBody)
		if err == nil {
			w.Header().Set("Content-Type", "application/yaml")
			_, _ = w.Write(y)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(jsonBody)
}

func wantsYAML(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/yaml", "text/yaml", "application/x-yaml":
			return true
		case "application/json":
			return false
		}
	}
	return false
}

// apiError turns an apiserver answer into the envelope: its refusals keep their status and
// reason; anything else is the cluster being unavailable.
func (a *API) apiError(w http.ResponseWriter, err error) {
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		s := st.Status()
		switch {
		case apierrors.IsForbidden(err):
			httpjson.WriteError(w, http.StatusForbidden, "forbidden", s.Message)
			return
		case apierrors.IsNotFound(err):
			httpjson.WriteError(w, http.StatusNotFound, "not_found", s.Message)
			return
		case apierrors.IsBadRequest(err), apierrors.IsInvalid(err):
			httpjson.WriteError(w, http.StatusBadRequest, errcode.BadParams, s.Message)
			return
		case apierrors.IsGone(err), apierrors.IsResourceExpired(err):
			httpjson.WriteError(w, http.StatusGone, "expired", s.Message)
			return
		case apierrors.IsUnauthorized(err):
			a.log.Warn("the apiserver refused Yard's credentials", "err", err)
			httpjson.WriteError(w, http.StatusBadGateway, "unavailable", "the cluster refused Yard's credentials")
			return
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		httpjson.WriteError(w, http.StatusGatewayTimeout, "unavailable", "the cluster did not answer in time")
		return
	}
	a.log.Warn("cluster request failed", "err", err)
	httpjson.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the cluster is unavailable")
}

// Verbs the access answer covers for every kind.
var accessVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete"}

// Actions beyond plain verbs on kinds that the UI enables or disables.
var accessActions = map[string]cluster.Access{
	"pods/exec":   {Verb: "create", Resource: "pods", Subresource: "exec"},
	"pods/log":    {Verb: "get", Resource: "pods", Subresource: "log"},
	"secrets/get": {Verb: "get", Resource: "secrets"},
}

// AccessAnswer is GET /api/access.
type AccessAnswer struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	// Kinds maps each kind to verb -> allowed.
	Kinds map[string]map[string]bool `json:"kinds"`
	// Actions maps pods/exec, pods/log, secrets/get -> allowed.
	Actions map[string]bool `json:"actions"`
	// WriteEnabled is false when the server refuses every cluster write (--write-enabled off).
	WriteEnabled bool `json:"writeEnabled"`
}

func (a *API) access(w http.ResponseWriter, r *http.Request) {
	t, ok := a.target(w, r, "")
	if !ok {
		return
	}
	kinds := cluster.Builtins
	if s := r.URL.Query().Get("kinds"); s != "" {
		kinds = nil
		for _, k := range strings.Split(s, ",") {
			res, err := t.cluster.Resolve(strings.TrimSpace(k))
			if err != nil {
				httpjson.WriteError(w, http.StatusNotFound, "unknown_kind", err.Error())
				return
			}
			kinds = append(kinds, res)
		}
	}
	ans := AccessAnswer{Cluster: t.cluster.Name, Namespace: t.namespace, Kinds: map[string]map[string]bool{},
		Actions: map[string]bool{}, WriteEnabled: a.writeEnabled}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, 16)
	)
	ask := func(q cluster.Access, set func(bool)) {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			d, err := t.cluster.Can(ctx, t.user, q)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				firstErr = cmpErr(firstErr, err)
				return
			}
			set(d.Allowed)
		})
	}
	for _, res := range kinds {
		verbs := map[string]bool{}
		ans.Kinds[res.Name] = verbs
		for _, v := range accessVerbs {
			ask(res.Access(v, t.namespace), func(ok bool) { verbs[v] = ok })
		}
	}
	for name, q := range accessActions {
		q.Namespace = t.namespace
		ask(q, func(ok bool) { ans.Actions[name] = ok })
	}
	wg.Wait()
	if firstErr != nil {
		a.log.Warn("access review failed", "cluster", t.cluster.Name, "err", firstErr)
		httpjson.WriteError(w, http.StatusServiceUnavailable, "unavailable", "could not ask the cluster what you may do")
		return
	}
	httpjson.WriteJSON(w, http.StatusOK, ans)
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
