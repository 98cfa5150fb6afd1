package room

import "github.com/yardhq/yard/server/mux"

// Describe implements mux.Describer: "room <id>".
func (Kind) Describe(req mux.OpenRequest) string {
	if id := req.Params.Get("room"); ValidID(id) {
		return "room " + id
	}
	return ""
}
