package errcode

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
		{Errorf(BadParams, "x"), http.StatusBadRequest},
		{Errorf(Unauthorized, "x"), http.StatusUnauthorized},
		{Errorf(Forbidden, "x"), http.StatusForbidden},
		{fmt.Errorf("wrapped: %w", Errorf(NotFound, "x")), http.StatusNotFound},
		{Errorf(Limit, "x"), http.StatusTooManyRequests},
		{Errorf(Unavailable, "x"), http.StatusServiceUnavailable},
		{Errorf(ShuttingDown, "x"), http.StatusServiceUnavailable},
		{Errorf(WritesDisabled, "x"), http.StatusForbidden},
		{Errorf(Conflict, "x"), http.StatusConflict},
		{fmt.Errorf("list pods: %w", context.DeadlineExceeded), http.StatusServiceUnavailable},
		{errors.New("a bug"), http.StatusInternalServerError},
		{Errorf("a_kinds_own", "x"), http.StatusInternalServerError},
	}
	for _, c := range cases {
		if got := HTTPStatus(c.err); got != c.want {
			t.Errorf("HTTPStatus(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestTableIsConsistent(t *testing.T) {
	codes := map[string]bool{}
	closes := map[int]string{}
	for _, in := range Table {
		if codes[in.Code] {
			t.Errorf("code %s listed twice", in.Code)
		}
		codes[in.Code] = true
		if other, dup := closes[in.Close]; dup {
			t.Errorf("close code %d used by %s and %s", in.Close, other, in.Code)
		}
		closes[in.Close] = in.Code
		if ForClose(in.Close) != in.Code || CloseCode(in.Code) != in.Close {
			t.Errorf("%s: close code %d does not round-trip", in.Code, in.Close)
		}
		if in.HTTP < 400 || in.HTTP > 599 {
			t.Errorf("%s: HTTP status %d is not an error", in.Code, in.HTTP)
		}
	}
	if CloseCode("a_kinds_own") != CloseOther || ForClose(CloseOther) != "" {
		t.Error("a kind's own code must close with CloseOther and map back to no code")
	}
}

func TestAsHidesUncodedErrors(t *testing.T) {
	e := As(errors.New("secret detail"))
	if e.Code != Internal || e.Message != "internal error" {
		t.Fatalf("As(plain error) = %+v", e)
	}
	if !Retry(Unavailable) || Retry(Disconnected) || Retry(Forbidden) {
		t.Fatal("Retry disagrees with the table")
	}
}
