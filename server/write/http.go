package write

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/yardhq/yard/server/audit"
	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/httpjson"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/roomid"
)

// API serves the write endpoints: POST /api/apply, POST /api/resource/{kind}/{name}/scale and
// /restart, DELETE /api/resource/{kind}/{name}.
type API struct {
	w         *Writer
	requestID func(context.Context) string
}

// NewAPI returns the HTTP face of w; requestID reads the request id the router gave a request.
func NewAPI(w *Writer, requestID func(context.Context) string) *API {
	if requestID == nil {
		requestID = func(context.Context) string { return "" }
	}
	return &API{w: w, requestID: requestID}
}

// Mount adds the routes to the authenticated /api router (it implements httpapi.Mounter).
func (a *API) Mount(r chi.Router) {
	r.Post("/apply", a.apply)
	r.Post("/resource/{kind}/{name}/scale", a.scale)
	r.Post("/resource/{kind}/{name}/restart", a.restart)
	r.Delete("/resource/{kind}/{name}", a.delete)
}

// ApplyResponse is the answer of POST /api/apply; with an error status it carries the error
// envelope too.
type ApplyResponse struct {
	DryRun  bool                  `json:"dryRun"`
	Results []Result              `json:"results"`
	Error   *httpjson.ErrorDetail `json:"error,omitempty"`
}

func (a *API) origin(r *http.Request) (Origin, error) {
	o := Origin{RequestID: a.requestID(r.Context()), Room: r.Header.Get(audit.RoomHeader)}
	if o.Room != "" && !roomid.Valid(o.Room) {
		return o, errcode.Errorf(errcode.BadParams, "%s: not a room id", audit.RoomHeader)
	}
	return o, nil
}

func (a *API) apply(w http.ResponseWriter, r *http.Request) {
	u, _ := identity.FromContext(r.Context())
	q := r.URL.Query()
	o, err := a.origin(r)
	if err != nil {
		httpjson.WriteCoded(w, err)
		return
	}
	opts := ApplyOptions{Namespace: q.Get("namespace"), Origin: o}
	if opts.DryRun, err = boolParam(q, "dryRun"); err != nil {
		httpjson.WriteCoded(w, err)
		return
	}
	if opts.Force, err = boolParam(q, "force"); err != nil {
		httpjson.WriteCoded(w, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpjson.WriteCoded(w, errcode.Errorf(errcode.BadParams, "the body is over %d bytes", MaxBodyBytes))
			return
		}
		httpjson.WriteCoded(w, errcode.Errorf(errcode.BadParams, "reading the body: %v", err))
		return
	}
	objs, err := DecodeObjects(r.Header.Get("Content-Type"), body)
	if err != nil {
		httpjson.WriteCoded(w, err)
		return
	}
	results, err := a.w.Apply(r.Context(), u, q.Get("cluster"), objs, opts)
	if err != nil && results == nil {
		httpjson.WriteCoded(w, err)
		return
	}
	resp := ApplyResponse{DryRun: opts.DryRun, Results: results}
	status := http.StatusOK
	if err != nil {
		e := errcode.As(err)
		resp.Error = &httpjson.ErrorDetail{Code: e.Code, Message: e.Message}
		status = errcode.HTTPStatus(err)
	}
	httpjson.WriteJSON(w, status, resp)
}

func boolParam(q map[string][]string, name string) (bool, error) {
	v := ""
	if vs := q[name]; len(vs) > 0 {
		v = vs[0]
	}
	switch v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, errcode.Errorf(errcode.BadParams, "%s: true or false", name)
}

func (a *API) scale(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Replicas *int64 `json:"replicas"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Replicas == nil {
		httpjson.WriteCoded(w, errcode.Errorf(errcode.BadParams, `body: want {"replicas":N}`))
		return
	}
	if *body.Replicas < 0 || *body.Replicas > MaxReplicas {
		httpjson.WriteCoded(w, errcode.Errorf(errcode.BadParams, "replicas: 0 to %s", strconv.Itoa(MaxReplicas)))
		return
	}
	a.act(w, r, func(u identity.User, ref Ref, o Origin) (ActionResult, error) {
		return a.w.Scale(r.Context(), u, ref, int32(*body.Replicas), o)
	})
}

func (a *API) restart(w http.ResponseWriter, r *http.Request) {
	a.act(w, r, func(u identity.User, ref Ref, o Origin) (ActionResult, error) {
		return a.w.Restart(r.Context(), u, ref, o)
	})
}

func (a *API) delete(w http.ResponseWriter, r *http.Request) {
	a.act(w, r, func(u identity.User, ref Ref, o Origin) (ActionResult, error) {
		return a.w.Delete(r.Context(), u, ref, r.URL.Query().Get("propagation"), o)
	})
}

// act runs an action on the object the request names and answers with its result.
func (a *API) act(w http.ResponseWriter, r *http.Request, do func(u identity.User, ref Ref, o Origin) (ActionResult, error)) {
	u, _ := identity.FromContext(r.Context())
	o, err := a.origin(r)
	if err != nil {
		httpjson.WriteCoded(w, err)
		return
	}
	q := r.URL.Query()
	res, err := do(u, Ref{Cluster: q.Get("cluster"), Namespace: q.Get("namespace"), Kind: chi.URLParam(r, "kind"), Name: chi.URLParam(r, "name")}, o)
	if err != nil {
		httpjson.WriteCoded(w, err)
		return
	}
	httpjson.WriteJSON(w, http.StatusOK, res)
}
