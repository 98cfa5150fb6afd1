package deploy

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/httpjson"
	"github.com/yardhq/yard/server/identity"
	"github.com/yardhq/yard/server/roomid"
)

// API serves the deploy endpoints under /api/rooms/{room}.
type API struct {
	s         *Service
	requestID func(context.Context) string
}

// NewAPI returns the HTTP face of s; requestID reads the request id the router gave a request.
func NewAPI(s *Service, requestID func(context.Context) string) *API {
	if requestID == nil {
		requestID = func(context.Context) string { return "" }
	}
	return &API{s: s, requestID: requestID}
}

// Mount adds the routes to the authenticated /api router (it implements httpapi.Mounter).
func (a *API) Mount(r chi.Router) {
	r.Post("/rooms/{room}/deploys", a.plan)
	r.Get("/rooms/{room}/deploys/{id}", a.get)
	r.Post("/rooms/{room}/deploys/{id}/approve", a.action(a.s.Approve, http.StatusOK))
	r.Post("/rooms/{room}/deploys/{id}/reject", a.action(a.s.Reject, http.StatusOK))
	r.Post("/rooms/{room}/deploys/{id}/apply", a.action(a.s.Apply, http.StatusAccepted))
	r.Post("/rooms/{room}/deploys/{id}/cancel", a.action(a.s.Cancel, http.StatusOK))
	r.Post("/rooms/{room}/deploys/{id}/rollback", a.action(a.s.Rollback, http.StatusCreated))
	r.Get("/rooms/{room}/deploy-policy", a.getPolicy)
	r.Put("/rooms/{room}/deploy-policy", a.putPolicy)
}

// room reads the room id of the path; a bad one is answered 400 bad_params (it also names
// Redis keys, inside their hash tag).
func room(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := chi.URLParam(r, "room")
	if !roomid.Valid(id) {
		httpjson.WriteCoded(w, errcode.Errorf(errcode.BadParams, "not a room id"))
		return "", false
	}
	return id, true
}

func (a *API) plan(w http.ResponseWriter, r *http.Request) {
	rm, ok := room(w, r)
	if !ok {
		return
	}
	var req PlanRequest
	if !httpjson.DecodeJSON(w, r, 4<<10, &req) {
		return
	}
	u, _ := identity.FromContext(r.Context())
	d, err := a.s.Plan(r.Context(), u, rm, req, a.requestID(r.Context()))
	if err != nil {
		httpjson.WriteCoded(w, err)
		return
	}
	httpjson.WriteJSON(w, http.StatusCreated, d)
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	rm, ok := room(w, r)
	if !ok {
		return
	}
	d, err := a.s.Get(r.Context(), rm, chi.URLParam(r, "id"))
	if err != nil {
		httpjson.WriteCoded(w, err)
		return
	}
	httpjson.WriteJSON(w, http.StatusOK, d)
}

type actionFunc func(ctx context.Context, u identity.User, room, id, requestID string) (*Deploy, error)

func (a *API) action(do actionFunc, status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, _ := identity.FromContext(r.Context())
		rm, ok := room(w, r)
		if !ok {
			return
		}
		if a.s.o.Rooms.ReadOnly(u, rm) {
			httpjson.WriteCoded(w, errcode.Errorf(errcode.Forbidden, "room %s is read-only for you", rm))
			return
		}
		d, err := do(r.Context(), u, rm, chi.URLParam(r, "id"), a.requestID(r.Context()))
		if err != nil {
			httpjson.WriteCoded(w, err)
			return
		}
		httpjson.WriteJSON(w, status, d)
	}
}

func (a *API) getPolicy(w http.ResponseWriter, r *http.Request) {
	rm, ok := room(w, r)
	if !ok {
		return
	}
	p, err := a.s.Policy(r.Context(), rm)
	if err != nil {
		httpjson.WriteCoded(w, err)
		return
	}
	httpjson.WriteJSON(w, http.StatusOK, p)
}

func (a *API) putPolicy(w http.ResponseWriter, r *http.Request) {
	rm, ok := room(w, r)
	if !ok {
		return
	}
	var p Policy
	if !httpjson.DecodeJSON(w, r, 1<<10, &p) {
		return
	}
	u, _ := identity.FromContext(r.Context())
	if err := a.s.SetPolicy(r.Context(), u, rm, p); err != nil {
		httpjson.WriteCoded(w, err)
		return
	}
	httpjson.WriteJSON(w, http.StatusOK, p)
}
