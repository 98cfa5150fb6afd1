package workflow

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/yardhq/yard/crdt"
	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/httpjson"
	"github.com/yardhq/yard/server/identity"
)

// Rooms is what the handlers need of the rooms: a write to a room's document that reaches every
// client, and the room's read-only rule. *room.Manager satisfies it.
type Rooms interface {
	Transact(ctx context.Context, id string, fn func(doc *crdt.Doc, tx *crdt.Transaction)) error
	ReadOnly(u identity.User, room string) bool
	JSON(ctx context.Context, id string) (map[string]any, error)
}

// API serves the template palette and inserts templates and compose imports into a room's
// workflow through its document, so every client sees the nodes appear.
type API struct {
	rooms Rooms
	ids   IDs
}

// NewAPI returns the handlers writing through rooms; ids gives node and edge ids (nil:
// RandomIDs).
func NewAPI(rooms Rooms, ids IDs) *API {
	if ids == nil {
		ids = RandomIDs
	}
	return &API{rooms: rooms, ids: ids}
}

// Mount adds the routes to the authenticated /api router (it implements httpapi.Mounter).
func (a *API) Mount(r chi.Router) {
	r.Get("/workflow/templates", a.templates)
	r.Post("/rooms/{room}/workflow/templates/{template}", a.instantiate)
	r.Post("/rooms/{room}/workflow/import-compose", a.importCompose)
	r.Get("/rooms/{room}/workflow/validation", a.validation)
}

// validation answers the current workflow's errors and hash, so the browser shows the server's
// rules on fields and nodes without a copy of them.
func (a *API) validation(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), writeTimeout)
	defer cancel()
	doc, err := a.rooms.JSON(ctx, chi.URLParam(r, "room"))
	switch {
	case err != nil && errors.As(err, new(*errcode.Error)):
		httpjson.WriteCoded(w, err)
		return
	case err != nil:
		httpjson.WriteCoded(w, errcode.Errorf(errcode.Unavailable, "the room store is unreachable"))
		return
	}
	root, _ := doc[Root].(map[string]any)
	wf := FromJSON(root)
	errs := Validate(wf)
	if errs == nil {
		errs = []Error{}
	}
	w.Header().Set("Cache-Control", "no-store")
	httpjson.WriteJSON(w, http.StatusOK, map[string]any{"errors": errs, "hash": Hash(wf)})
}

// writeTimeout bounds a handler's wait for the room to take its write.
const writeTimeout = 10 * time.Second

func (a *API) templates(w http.ResponseWriter, _ *http.Request) {
	httpjson.WriteJSON(w, http.StatusOK, map[string]any{"templates": Templates()})
}

type templateRequest struct {
	Name string  `json:"name"`
	X    float64 `json:"x"`
	Y    float64 `json:"y"`
}

func (a *API) instantiate(w http.ResponseWriter, r *http.Request) {
	room, ok := a.writable(w, r)
	if !ok {
		return
	}
	var req templateRequest
	if !httpjson.DecodeJSON(w, r, 4<<10, &req) {
		return
	}
	if !finite(req.X) || !finite(req.Y) {
		httpjson.WriteCoded(w, errcode.Errorf(errcode.BadParams, "x and y are finite numbers"))
		return
	}
	nodes, edges, err := Instantiate(chi.URLParam(r, "template"), req.Name, req.X, req.Y, a.ids)
	if err != nil {
		httpjson.WriteCoded(w, err)
		return
	}
	if a.insert(w, r, room, nodes, edges) {
		httpjson.WriteJSON(w, http.StatusOK, map[string]any{"nodes": nodes, "edges": edges})
	}
}

func (a *API) importCompose(w http.ResponseWriter, r *http.Request) {
	room, ok := a.writable(w, r)
	if !ok {
		return
	}
	x, errX := coord(r.URL.Query().Get("x"))
	y, errY := coord(r.URL.Query().Get("y"))
	if errX != nil || errY != nil {
		httpjson.WriteCoded(w, errcode.Errorf(errcode.BadParams, "x and y are finite numbers"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxComposeBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		httpjson.WriteCoded(w, errcode.Errorf(errcode.TooLarge, "a compose file is at most %d bytes", MaxComposeBytes))
		return
	case err != nil:
		httpjson.WriteCoded(w, errcode.Errorf(errcode.BadParams, "reading the body: %v", err))
		return
	}
	imp, err := ImportCompose(body, x, y, a.ids)
	if err != nil {
		httpjson.WriteCoded(w, err)
		return
	}
	if a.insert(w, r, room, imp.Nodes, imp.Edges) {
		if imp.Edges == nil {
			imp.Edges = []Edge{}
		}
		httpjson.WriteJSON(w, http.StatusOK, imp)
	}
}

// writable checks the room id and that the user may write the room.
func (a *API) writable(w http.ResponseWriter, r *http.Request) (string, bool) {
	room := chi.URLParam(r, "room")
	u, _ := identity.FromContext(r.Context())
	if a.rooms.ReadOnly(u, room) {
		httpjson.WriteCoded(w, errcode.Errorf(errcode.Forbidden, "room %s is read-only for you", clip(room)))
		return "", false
	}
	return room, true
}

// insert writes nodes and edges into the room's workflow; on failure it has answered.
func (a *API) insert(w http.ResponseWriter, r *http.Request, room string, nodes []Node, edges []Edge) bool {
	ctx, cancel := context.WithTimeout(r.Context(), writeTimeout)
	defer cancel()
	var insErr error
	err := a.rooms.Transact(ctx, room, func(doc *crdt.Doc, tx *crdt.Transaction) {
		insErr = Insert(doc, tx, nodes, edges)
	})
	switch {
	case insErr != nil:
		httpjson.WriteCoded(w, insErr)
	case err != nil && errors.As(err, new(*errcode.Error)):
		httpjson.WriteCoded(w, err)
	case err != nil:
		// The nodes are in this replica's copy and reach the store (and everyone) once it is back.
		httpjson.WriteCoded(w, errcode.Errorf(errcode.Unavailable, "the room store is unreachable; the nodes are stored once it is back"))
	default:
		return true
	}
	return false
}

func coord(s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err == nil && !finite(f) {
		err = errors.New("not finite")
	}
	return f, err
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
