package shell

import "github.com/yardhq/yard/server/mux"

// Describe implements mux.Describer: "session <id> (<role>)" for a join, "<namespace>/<pod>" for
// a new session (its id is chosen once it starts). The command is never shown.
func (Kind) Describe(req mux.OpenRequest) string {
	o, err := ParseOpen(req.Params)
	switch {
	case err != nil:
		return ""
	case o.Session != "":
		return "session " + o.Session + " (" + o.Role + ")"
	case o.Container != "":
		return o.Namespace + "/" + o.Pod + "/" + o.Container
	default:
		return o.Namespace + "/" + o.Pod
	}
}
