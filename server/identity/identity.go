// Package identity holds the authenticated user that every request and channel carries.
//
// It sits below auth, the multiplexer and the cluster layer so they can all speak of the same
// user without importing each other.
package identity

import "context"

// User is who a request acts for. Cluster calls impersonate Name and Groups, so Kubernetes RBAC
// decides what the user may do.
type User struct {
	// ID is the stable subject (JWT "sub").
	ID string `json:"id"`
	// Name is the Kubernetes user name used for impersonation: a stable claim of the token
	// (--jwt-user-claim), never a display name a user can change.
	Name string `json:"name"`
	// Display is how people see the user (the token's name or preferred_username); it decides
	// nothing.
	Display string `json:"display,omitempty"`
	// Groups are impersonated as Kubernetes groups.
	Groups []string `json:"groups,omitempty"`
	// Admin grants the admin API (presence panel, ending sessions).
	Admin bool `json:"admin,omitempty"`
}

type ctxKey struct{}

// WithUser returns a context carrying u.
func WithUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, ctxKey{}, u)
}

// FromContext returns the user stored by WithUser.
func FromContext(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(ctxKey{}).(User)
	return u, ok
}
