package mux

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestHTTPStatus(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{Errorf(CodeBadParams, "x"), http.StatusBadRequest},
		{Errorf(CodeUnauthorized, "x"), http.StatusUnauthorized},
		{Errorf(CodeForbidden, "x"), http.StatusForbidden},
		{fmt.Errorf("wrapped: %w", Errorf(CodeNotFound, "x")), http.StatusNotFound},
		{Errorf(CodeLimit, "x"), http.StatusTooManyRequests},
		{Errorf(CodeUnavailable, "x"), http.StatusServiceUnavailable},
		{Errorf(CodeShuttingDown, "x"), http.StatusServiceUnavailable},
		{fmt.Errorf("list pods: %w", context.DeadlineExceeded), http.StatusServiceUnavailable},
		{errors.New("a bug"), http.StatusInternalServerError},
	}
	for _, c := range cases {
		if got := HTTPStatus(c.err); got != c.want {
			t.Errorf("HTTPStatus(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}
