package audit

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/yardhq/yard/server/errcode"
	"github.com/yardhq/yard/server/httpjson"
)

// ParseQuery reads a listing's parameters: user, verb (one of the trail's), since (RFC 3339) and
// limit (1 to MaxLimit, default DefaultLimit). Errors are bad_params.
func ParseQuery(v url.Values) (Query, error) {
	q := Query{User: v.Get("user"), Verb: v.Get("verb")}
	if len(q.User) > 256 {
		return Query{}, errcode.Errorf(errcode.BadParams, "user: at most 256 bytes")
	}
	if q.Verb != "" && !ValidVerb(q.Verb) {
		return Query{}, errcode.Errorf(errcode.BadParams, "verb %q: want apply, scale, restart, delete, deploy or exec", q.Verb)
	}
	if s := v.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return Query{}, errcode.Errorf(errcode.BadParams, "since %q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", s)
		}
		q.Since = t
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return Query{}, errcode.Errorf(errcode.BadParams, "limit %q: from 1 to %d", s, MaxLimit)
		}
		q.Limit = n
	}
	return q, nil
}

// Handler serves GET /api/admin/audit: {"entries":[...]}, the entries the query parameters
// select, newest first. Whoever mounts it checks that the caller is an admin.
func Handler(t Trail) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := ParseQuery(r.URL.Query())
		if err != nil {
			httpjson.WriteCoded(w, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
		defer cancel()
		list, err := t.List(ctx, q)
		if err != nil {
			httpjson.WriteCoded(w, errcode.Errorf(errcode.Unavailable, "the audit trail cannot be read: %v", err))
			return
		}
		httpjson.WriteJSON(w, http.StatusOK, map[string]any{"entries": list})
	})
}
