// Package httpjson writes and reads the JSON bodies of every HTTP endpoint: the results and the
// coded error envelope {"error":{"code","message"}}. It is a leaf, so domain packages that serve
// HTTP use it without importing the router (httpapi).
package httpjson

import (
	"encoding/json"
	"net/http"

	"github.com/yardhq/yard/server/errcode"
)

// ErrorBody is the JSON error envelope every endpoint uses.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is a coded error: Code is stable for programs, Message is for people.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WriteError writes the error envelope with status.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	WriteJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: message}})
}

// WriteCoded writes err as the error envelope with its code's status (errcode's table); an
// error without a code is "internal" and its text is not sent.
func WriteCoded(w http.ResponseWriter, err error) {
	e := errcode.As(err)
	WriteError(w, errcode.HTTPStatus(err), e.Code, e.Message)
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// DecodeJSON reads a JSON request body of at most maxBytes into v, rejecting unknown fields.
// On failure it has already written a 400 and returns false.
func DecodeJSON(w http.ResponseWriter, r *http.Request, maxBytes int64, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		WriteError(w, http.StatusBadRequest, errcode.BadParams, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}
