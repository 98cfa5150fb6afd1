package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/yardhq/yard/server/identity"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func hsVerifier(t *testing.T, now func() time.Time) *Verifier {
	t.Helper()
	v, err := NewVerifier(Options{Secret: secret, AdminGroup: "yard-admins", TokenTTL: time.Hour, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestIssueThenVerifyRoundTrips(t *testing.T) {
	v := hsVerifier(t, nil)
	tok, exp, err := v.Issue(identity.User{ID: "alice", Name: "alice", Groups: []string{"dev", "yard-admins"}})
	if err != nil {
		t.Fatal(err)
	}
	if time.Until(exp) < 59*time.Minute {
		t.Fatalf("expiry %v too soon", exp)
	}
	u, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "alice" || u.ID != "alice" || len(u.Groups) != 2 || !u.Admin {
		t.Fatalf("user = %+v; want alice, 2 groups, admin through the admin group", u)
	}
}

func TestVerifyRejects(t *testing.T) {
	v := hsVerifier(t, nil)
	now := time.Now()
	cases := map[string]struct {
		token string
		code  string
	}{
		"empty":   {"", CodeMissing},
		"garbage": {"not.a.jwt", CodeInvalid},
		"expired": {sign(t, jwt.SigningMethodHS256, secret, "", jwt.MapClaims{
			"sub": "alice", "exp": now.Add(-time.Hour).Unix()}), CodeExpired},
		"no expiry": {sign(t, jwt.SigningMethodHS256, secret, "", jwt.MapClaims{"sub": "alice"}), CodeInvalid},
		"forged signature": {sign(t, jwt.SigningMethodHS256, []byte("another-secret-of-enough-length"), "", jwt.MapClaims{
			"sub": "alice", "exp": now.Add(time.Hour).Unix()}), CodeInvalid},
		"alg none": {sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", jwt.MapClaims{
			"sub": "alice", "exp": now.Add(time.Hour).Unix()}), CodeInvalid},
		"no subject": {sign(t, jwt.SigningMethodHS256, secret, "", jwt.MapClaims{
			"exp": now.Add(time.Hour).Unix()}), CodeInvalid},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(tc.token)
			if err == nil {
				t.Fatal("accepted")
			}
			if got := CodeOf(err); got != tc.code {
				t.Fatalf("code %q, want %q (%v)", got, tc.code, err)
			}
			if tc.token != "" && strings.Contains(err.Error(), tc.token) {
				t.Fatal("the error repeats the token")
			}
		})
	}
}

func TestAdminClaim(t *testing.T) {
	v := hsVerifier(t, nil)
	tok := sign(t, jwt.SigningMethodHS256, secret, "", jwt.MapClaims{
		"sub": "u-1", "preferred_username": "dana", "admin": true, "exp": time.Now().Add(time.Hour).Unix()})
	u, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != "u-1" || u.Name != "dana" || !u.Admin {
		t.Fatalf("user = %+v", u)
	}
}

// jwksServer serves the public halves of keys and counts fetches; keys can be swapped to model
// a provider's rotation.
type jwksServer struct {
	keys    atomic.Pointer[map[string]*rsa.PrivateKey]
	fetches atomic.Int32
	*httptest.Server
}

func newJWKSServer(t *testing.T, keys map[string]*rsa.PrivateKey) *jwksServer {
	s := &jwksServer{}
	s.keys.Store(&keys)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		var doc struct {
			Keys []map[string]string `json:"keys"`
		}
		for kid, k := range *s.keys.Load() {
			doc.Keys = append(doc.Keys, map[string]string{
				"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
				"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
			})
		}
		_ = json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(s.Close)
	return s
}

func rsaKey2048(t *testing.T) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestJWKSVerifiesAndRefreshesOnUnknownKid(t *testing.T) {
	k1, k2, stranger := rsaKey2048(t), rsaKey2048(t), rsaKey2048(t)
	srv := newJWKSServer(t, map[string]*rsa.PrivateKey{"k1": k1})
	clock := time.Now()
	now := func() time.Time { return clock }
	jwks := NewJWKS(srv.URL, JWKSOptions{MinRefresh: 10 * time.Second, Now: now})
	v, err := NewVerifier(Options{JWKS: jwks, AdminGroup: "yard-admins", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	claims := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": "bob", "groups": []string{"yard-admins"}, "exp": clock.Add(time.Hour).Unix()}
	}

	u, err := v.Verify(sign(t, jwt.SigningMethodRS256, k1, "k1", claims()))
	if err != nil || u.Name != "bob" || !u.Admin {
		t.Fatalf("k1 token: %+v, %v", u, err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}

	// A key id the JWKS does not have: refused, and within MinRefresh no second fetch.
	_, err = v.Verify(sign(t, jwt.SigningMethodRS256, stranger, "k9", claims()))
	if CodeOf(err) != CodeUnknownKey {
		t.Fatalf("unknown kid: code %q (%v)", CodeOf(err), err)
	}
	// A token signed by another key under a known kid is a forgery.
	_, err = v.Verify(sign(t, jwt.SigningMethodRS256, stranger, "k1", claims()))
	if CodeOf(err) != CodeInvalid {
		t.Fatalf("forged RS256: code %q (%v)", CodeOf(err), err)
	}
	// An HS256 token is not accepted when only JWKS is configured (algorithm confusion).
	_, err = v.Verify(sign(t, jwt.SigningMethodHS256, secret, "k1", claims()))
	if err == nil {
		t.Fatal("HS256 token accepted by a JWKS-only verifier")
	}

	// The provider rotates to k2; after MinRefresh the unknown kid triggers a refetch.
	srv.keys.Store(&map[string]*rsa.PrivateKey{"k2": k2})
	clock = clock.Add(11 * time.Second)
	if _, err := v.Verify(sign(t, jwt.SigningMethodRS256, k2, "k2", claims())); err != nil {
		t.Fatalf("k2 after rotation: %v", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}
	if v.CanIssue() {
		t.Fatal("a JWKS-only verifier must not issue tokens")
	}
}

func TestTicketsAreSingleUseAndExpire(t *testing.T) {
	clock := time.Now()
	store := NewMemoryTickets(func() time.Time { return clock })
	ctx := context.Background()
	alice := identity.User{ID: "alice", Name: "alice"}

	tk, exp, err := store.Issue(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if d := exp.Sub(clock); d != TicketTTL {
		t.Fatalf("ticket lives %v, want %v", d, TicketTTL)
	}
	if u, err := store.Redeem(ctx, tk); err != nil || u.ID != "alice" {
		t.Fatalf("first redeem: %+v, %v", u, err)
	}
	if _, err := store.Redeem(ctx, tk); CodeOf(err) != CodeTicketInvalid {
		t.Fatalf("reuse: %v", err)
	}

	tk2, _, _ := store.Issue(ctx, alice)
	clock = clock.Add(TicketTTL + time.Second)
	if _, err := store.Redeem(ctx, tk2); CodeOf(err) != CodeTicketInvalid {
		t.Fatalf("expired: %v", err)
	}
	if _, err := store.Redeem(ctx, "made-up"); CodeOf(err) != CodeTicketInvalid {
		t.Fatalf("unknown: %v", err)
	}
}
